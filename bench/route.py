"""Benchmark: Modified Puls routing of one year of 1-minute inflow, compiled vs plain Python.

Synthetic data: a reservoir with 200 rows of storage-outflow table (storage grows with the
depth to the power 1.6, a free spillway from the 120th row) and 525,600 one-minute inflows
(a base flow, a seasonal swing and a flood every ten days). :func:`route_puls` (numba,
``@njit(cache=True)``) is timed after a warm-up call, so compile time (or loading the cache) is
excluded; best of 3. :func:`route_puls_python` (the same scheme in a plain Python loop over
lists, what a user would write) is timed once. Both include the same input checks. The two
results must agree to 1e-9 relative.
Targets: at least 1,000,000 steps/s compiled and 20x the plain loop.
Usage: ``python bench/route.py [--quick]`` (52,560 steps). The last line printed is one JSON
object of the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from shuian.hydrology.routing import NUMBA_AVAILABLE, route_puls, route_puls_python

STEPS = 525_600
QUICK_STEPS = 52_560
DT_S = 60.0
TARGET_STEPS_PER_S = 1_000_000.0
TARGET_SPEEDUP = 20.0


def synthetic(steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Inflow (m³/s), table storages (m³) and outflows (m³/s), start storage (m³)."""
    depth = np.linspace(0.0, 60.0, 200)
    storages = 2e5 * depth**1.6 + 1e4 * depth
    head = np.clip(depth - depth[120], 0.0, None)
    outflows = 5.0 + 2.0 * 40.0 * head**1.5
    t = np.arange(steps) * DT_S
    days = t / 86400.0
    inflow = 20.0 + 10.0 * np.sin(2 * np.pi * days / 365.25)
    phase = days % 10.0
    inflow += 400.0 * (phase / 0.5) ** 3 * np.exp(3.0 * (1.0 - phase / 0.5))
    return inflow, storages, outflows, float(storages[110])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS:,} steps")
    args = parser.parse_args()
    steps = QUICK_STEPS if args.quick else STEPS
    inflow, storages, outflows, s0 = synthetic(steps)

    route_puls(inflow[:10], DT_S, storages, outflows, s0)  # compile or load the cache
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        fast = route_puls(inflow, DT_S, storages, outflows, s0)
        best = min(best, time.perf_counter() - start)
    start = time.perf_counter()
    slow = route_puls_python(inflow, DT_S, storages, outflows, s0)
    python_s = time.perf_counter() - start

    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * float(np.max(np.abs(b))))
    numba_rate = steps / best
    python_rate = steps / python_s
    speedup = numba_rate / python_rate
    print(f"steps: {steps:,} at {DT_S:g} s (numba available: {NUMBA_AVAILABLE})")
    print(f"numba, warm, best of 3: {best * 1e3:9.2f} ms {numba_rate:14,.0f} steps/s")
    print(f"plain Python loop:      {python_s * 1e3:9.2f} ms {python_rate:14,.0f} steps/s")
    print(
        f"speedup {speedup:.1f}x (target {TARGET_SPEEDUP:g}x); "
        f"compiled {'meets' if numba_rate >= TARGET_STEPS_PER_S else 'MISSES'} "
        f"{TARGET_STEPS_PER_S:,.0f} steps/s"
    )
    print(
        json.dumps(
            {
                "steps": steps,
                "numba_steps_per_s": round(numba_rate),
                "python_steps_per_s": round(python_rate),
                "speedup": round(speedup, 1),
            }
        )
    )
    ok = numba_rate >= TARGET_STEPS_PER_S and speedup >= TARGET_SPEEDUP
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

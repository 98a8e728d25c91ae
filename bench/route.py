"""Benchmark: Modified Puls routing of one year of 1-minute inflow, compiled vs plain Python.

Synthetic data: a reservoir with 200 rows of storage-outflow table (storage grows with the
depth to the power 1.6, a free spillway from the 120th row) and 525,600 one-minute inflows
(a base flow, a seasonal swing and a flood every ten days). :func:`route_puls` (numba,
``@njit(cache=True)``) is timed after a warm-up call, so compile time (or loading the cache) is
excluded; :func:`route_puls_python` is the same scheme in a plain Python loop over lists (what
a user would write), also warmed up. Both include the same input checks and are timed alike:
``--rounds`` rounds in which each runs once, in turn (the order reversed every other round);
the speedup is the median of the per-round ratios, with their min and max, and the compiled
rate is its median. The two results must agree to 1e-9 relative.
Targets: at least 1,000,000 steps/s compiled and 20x the plain loop.
Usage: ``python bench/route.py [--quick] [--rounds N]`` (``--quick``: 52,560 steps). The last
line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from common import interleaved, pairwise
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
    """Time the compiled and the plain routing, interleaved; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS:,} steps")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    steps = QUICK_STEPS if args.quick else STEPS
    inflow, storages, outflows, s0 = synthetic(steps)
    results: dict[str, object] = {}

    def timed(name: str, route: Callable[..., object]) -> Callable[[], float]:
        def run() -> float:
            start = time.perf_counter()
            results[name] = route(inflow, DT_S, storages, outflows, s0)
            return time.perf_counter() - start

        return run

    route_puls(inflow[:10], DT_S, storages, outflows, s0)  # compile or load the cache
    route_puls_python(inflow[:10], DT_S, storages, outflows, s0)
    runs = interleaved(
        {"numba": timed("numba", route_puls), "python": timed("python", route_puls_python)},
        args.rounds,
    )
    fast, slow = results["numba"], results["python"]
    assert isinstance(fast, tuple) and isinstance(slow, tuple)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * float(np.max(np.abs(b))))
    numba_s, python_s = statistics.median(runs["numba"]), statistics.median(runs["python"])
    numba_rate = steps / numba_s
    python_rate = steps / python_s
    speedup = pairwise(runs["python"], runs["numba"])
    print(f"steps: {steps:,} at {DT_S:g} s (numba available: {NUMBA_AVAILABLE})")
    print(f"numba, warm, median of {args.rounds}: {numba_s * 1e3:9.2f} ms "
          f"{numba_rate:14,.0f} steps/s")
    print(f"plain Python loop, median:   {python_s * 1e3:9.2f} ms {python_rate:14,.0f} steps/s")
    print(
        f"speedup {speedup['median']:.1f}x (per-round {speedup['min']:.1f}-{speedup['max']:.1f}x;"
        f" target {TARGET_SPEEDUP:g}x); compiled "
        f"{'meets' if numba_rate >= TARGET_STEPS_PER_S else 'MISSES'} "
        f"{TARGET_STEPS_PER_S:,.0f} steps/s"
    )
    print(
        json.dumps(
            {
                "steps": steps,
                "rounds": args.rounds,
                "numba_steps_per_s": round(numba_rate),
                "python_steps_per_s": round(python_rate),
                "speedup": speedup["median"],
                "speedup_min": speedup["min"],
                "speedup_max": speedup["max"],
            }
        )
    )
    ok = numba_rate >= TARGET_STEPS_PER_S and speedup["median"] >= TARGET_SPEEDUP
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

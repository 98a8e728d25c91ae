"""Benchmark: HST fits of 2,000 channels x 10 years of daily readings, at once vs one by one.

Synthetic data: a daily reservoir level over 3,653 days, values from known HST coefficients
(H^1..3, two harmonics, θ, ln(1+θ)) plus noise; 10 % of the channels miss about 2 % of their
readings, scattered. ``fit_many`` (design matrix built once and included in the time, one QR
shared by all channels, a small correction per channel with gaps) is timed against what a user
would write instead: a loop of statsmodels OLS, ``sm.OLS(y[mask], X[mask]).fit()`` per
channel, on the same design matrix (given to it ready-made).

Both sides are measured alike: the BLAS pinned to the same number of threads (``--threads``,
default 1: with 2 loaded cores, statsmodels' many small multithreaded BLAS calls otherwise
collapse and inflate the ratio), one warm-up each, then ``--rounds`` rounds in which each side
runs once, in turn (the order reversed every other round); the speedup is the median of the
per-round ratios, with their min and max. The BLAS library, kernel and threads are printed, with
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE from the environment (they select the kernel). The
coefficients must agree to 1e-9 relative (max over channels of max|Δ| / max|coef|).
Usage: ``python bench/models.py [--quick] [--channels N] [--rounds N] [--threads N]``
(``--quick``: 200 channels, 3 rounds). The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import statsmodels.api as sm
from threadpoolctl import threadpool_limits

from common import blas_info, interleaved, pairwise
from shuian.models import hst
from shuian.site.analysis import ModelSpec

DAYS = 3653
START_US = int(np.datetime64("2014-01-01T00:00", "us").astype(np.int64))
TARGET_SPEEDUP = 20.0
TOLERANCE = 1e-9


def synthetic(channels: int, seed: int = 0) -> tuple[hst.DailySeries, np.ndarray, np.ndarray]:
    """Daily level, reading times (08:00 UTC) and an (days, channels) matrix of values."""
    rng = np.random.default_rng(seed)
    d = np.arange(DAYS + 1, dtype=np.float64)
    level_values = 140 + 9 * np.sin(2 * np.pi * d / 365.25 + 0.7) + 3 * np.sin(2 * np.pi * d / 97)
    level_values += np.cumsum(rng.normal(0, 0.15, d.size))
    level = hst.DailySeries(
        START_US + np.arange(d.size, dtype=np.int64) * hst.US_PER_DAY, level_values
    )
    times = level.times_us[:DAYS] + 8 * 3_600_000_000
    x = hst.design_matrix(ModelSpec(), times, level, reference_us=int(times[0])).matrix
    truth = rng.normal(0, 3, (x.shape[1], channels))
    values = x @ truth + rng.normal(0, 0.1, (DAYS, channels))
    gappy = rng.choice(channels, size=max(1, channels // 10), replace=False)
    holes = rng.random((DAYS, gappy.size)) < 0.02
    block = values[:, gappy]
    block[holes] = np.nan
    values[:, gappy] = block
    return level, times, values


def main() -> int:
    """Measure fit_many against the statsmodels loop, interleaved; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 channels, 3 rounds")
    parser.add_argument("--channels", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads, both sides")
    args = parser.parse_args()
    channels, rounds = (200, 3) if args.quick else (args.channels, args.rounds)
    level, times, values = synthetic(channels)
    spec = ModelSpec()
    reference = int(times[0])
    print(f"{channels} channels x {DAYS} days, {np.isnan(values).any(axis=0).sum()} with gaps")

    x = hst.design_matrix(spec, times, level, reference_us=reference).matrix
    # Both get the same layout: each channel's readings contiguous, as a DataFrame column is.
    columns = np.asfortranarray(values)
    fitted: list[list[hst.FittedModel]] = []
    params = np.empty((x.shape[1], channels))

    def ours() -> float:
        started = time.perf_counter()
        models = hst.fit_many(spec, times, columns, level, reference_us=reference)
        elapsed = time.perf_counter() - started
        fitted[:] = [models]
        return elapsed

    def theirs() -> float:
        started = time.perf_counter()
        for j in range(channels):
            y = columns[:, j]
            mask = ~np.isnan(y)
            params[:, j] = sm.OLS(y[mask], x[mask]).fit().params
        return time.perf_counter() - started

    with threadpool_limits(limits=args.threads, user_api="blas"):
        blas = blas_info()
        # Warm both up (imports, caches, BLAS threads) on a tenth of the channels.
        warm = channels // 10 + 1
        hst.fit_many(spec, times, columns[:, :warm], level, reference_us=reference)
        for j in range(warm):
            mask = ~np.isnan(columns[:, j])
            sm.OLS(columns[mask, j], x[mask]).fit()
        runs = interleaved({"ours": ours, "statsmodels": theirs}, rounds)
    speedup = pairwise(runs["statsmodels"], runs["ours"])
    ours_s, theirs_s = float(np.median(runs["ours"])), float(np.median(runs["statsmodels"]))
    for library in blas["libraries"]:  # numpy's runs both sides; scipy's is loaded too
        print(f"BLAS {library['filepath'].rsplit('/', 1)[-1]}: {library['internal_api']} "
              f"{library['version']}, kernel {library['architecture']}, "
              f"{library['num_threads']} thread(s)")
    print(f"OPENBLAS_CORETYPE={blas['env']['OPENBLAS_CORETYPE']}, "
          f"OPENBLAS_L2_SIZE={blas['env']['OPENBLAS_L2_SIZE']}")
    print(f"shuian fit_many (design matrix included): median {ours_s:.3f} s of {rounds}")
    print(f"statsmodels OLS, one channel at a time:   median {theirs_s:.3f} s of {rounds}")

    ours_params = np.column_stack([m.coefficients for m in fitted[0]])
    rel = np.abs(ours_params - params).max(axis=0) / np.abs(params).max(axis=0)
    max_rel = float(rel.max())
    print(f"speedup {speedup['median']:.1f}x (per-round {speedup['min']:.1f}-{speedup['max']:.1f}"
          f"x; target >= {TARGET_SPEEDUP:g}x); max relative Δ {max_rel:.2e}")
    figures = {
        "channels": channels,
        "days": DAYS,
        "rounds": rounds,
        "blas_threads": args.threads,
        "ours_s": round(ours_s, 4),
        "statsmodels_s": round(theirs_s, 4),
        "speedup": speedup["median"],
        "speedup_min": speedup["min"],
        "speedup_max": speedup["max"],
        "meets_target": speedup["median"] >= TARGET_SPEEDUP,
        "max_rel_diff": max_rel,
        "blas": blas,
    }
    print(json.dumps(figures))
    return 0 if max_rel < TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: 10 years of hourly readings of one channel, downsampled to 2,000 points via HTTP.

A real uvicorn server runs the API in a thread over a store holding the series (87,660 hourly
readings); a client asks ``GET /api/channels/{code}/readings?max_points=2000`` repeatedly and
the median answer time is compared with the 100 ms target. SQLite and PostgreSQL.
Usage: ``python bench/query.py [--quick] [--backend sqlite|postgresql|both]``. The last line
printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from common import drop, fresh_url, serving
from shuian.readings import US_PER_S, ReadingBatch
from shuian.site import load_site
from shuian.store import open_store

ROOT = Path(__file__).resolve().parents[1]
SITE_FILE = ROOT / "tests" / "data" / "site.yaml"
TARGET_MS = 100.0
CHANNEL = "WL.level"


def fill(url: str) -> int:
    """Store the test site and 10 years of hourly water levels; return the reading count."""
    store = open_store(url)
    store.save_site(load_site(SITE_FILE), SITE_FILE.read_text())
    channel = store.channel(store.site().id, CHANNEL)
    hours = np.arange(0, 10 * 8766, dtype=np.int64)
    rng = np.random.default_rng(1)
    level = 120 + 10 * np.sin(2 * np.pi * hours / 8766) + rng.normal(0, 0.2, len(hours))
    start_us = 1_420_070_400 * US_PER_S  # 2015-01-01T00:00Z
    store.write_readings(
        ReadingBatch(
            channel_id=np.full(len(hours), channel.id, dtype=np.int64),
            time_us=start_us + hours * 3600 * US_PER_S,
            value=level,
            raw=np.full(len(hours), np.nan),
        )
    )
    store.close()
    return len(hours)


def measure(url: str, requests: int) -> dict[str, float]:
    """Serve the API and time ``requests`` downsampled reads (ms)."""
    with serving(url) as base, httpx.Client(base_url=base) as client:
        path = f"/api/channels/{CHANNEL}/readings"
        first = client.get(path, params={"max_points": 2000})
        first.raise_for_status()
        assert first.json()["returned"] <= 2000
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get(path, params={"max_points": 2000}).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(times), 1),
        "p90_ms": round(float(np.percentile(times, 90)), 1),
        "count": first.json()["count"],
        "returned": first.json()["returned"],
    }


def main() -> None:
    """Fill a store per backend and measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 requests per backend")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    requests = 10 if args.quick else 50
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    figures: dict[str, object] = {"target_ms": TARGET_MS, "requests": requests}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            url = fresh_url(backend, Path(tmp))
            try:
                fill(url)
                result = measure(url, requests)
            finally:
                drop(url)
            result["ratio_to_target"] = round(result["median_ms"] / TARGET_MS, 3)
            figures[backend] = result
            print(f"{backend}: {result}", file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

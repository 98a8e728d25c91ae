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
import threading
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import psycopg
import uvicorn

from shuian.api import create_app
from shuian.readings import US_PER_S, ReadingBatch
from shuian.site import load_site
from shuian.store import open_store

ROOT = Path(__file__).resolve().parents[1]
SITE_FILE = ROOT / "tests" / "data" / "site.yaml"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
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


def measure(url: str, requests: int, port: int) -> dict[str, float]:
    """Serve the API on ``port`` and time ``requests`` downsampled reads (ms)."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(url), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            path = f"/api/channels/{CHANNEL}/readings"
            first = client.get(path, params={"max_points": 2000})
            first.raise_for_status()
            assert first.json()["returned"] <= 2000
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                client.get(path, params={"max_points": 2000}).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
    finally:
        server.should_exit = True
        thread.join()
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
        for n, backend in enumerate(backends):
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            if backend == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'query.db'}"
            else:
                with psycopg.connect(PG_URL, autocommit=True) as conn:
                    conn.execute(f"CREATE SCHEMA {schema}")
                url = f"{PG_URL}?options=-csearch_path%3D{schema}"
            try:
                fill(url)
                result = measure(url, requests, 8765 + n)
            finally:
                if backend == "postgresql":
                    with psycopg.connect(PG_URL, autocommit=True) as conn:
                        conn.execute(f"DROP SCHEMA {schema} CASCADE")
            result["ratio_to_target"] = round(result["median_ms"] / TARGET_MS, 3)
            figures[backend] = result
            print(f"{backend}: {result}", file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""Benchmark: the dashboard's first load, the latest state of 1,000 channels, 100 live clients.

1. First load: headless Chromium (Debian's, driven by Playwright) opens the dashboard of the
   3-year demo (SQLite) and waits until the schematic's markers and the latest values are drawn;
   target under 1.5 s.
2. ``GET /api/latest`` for a site of 1,000 channels (median of repeated requests over HTTP);
   target under 50 ms.
3. 100 server-sent-event clients connected at once; readings are stored one after another (each
   a new newest reading) and every client must receive every update; the delay from storing to
   receiving is reported (median and p99).

A real uvicorn server runs in a thread for each part. Usage: ``python bench/web.py [--quick]``;
the last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from common import serving
from shuian.readings import ReadingBatch
from shuian.services.demo import build_demo
from shuian.services.ingest import Ingestor
from shuian.site import parse_site
from shuian.store import open_store

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def first_load(base: str, runs: int) -> dict[str, float]:
    """Seconds from navigation until markers and latest values are drawn (best and median)."""
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(runs + 1):  # the first run warms the server's caches
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            started = time.perf_counter()
            page.goto(base + "/")
            page.wait_for_selector(  # the page marks itself ready once everything is drawn
                "body[data-ready='true'] #schematic svg .marker", state="attached",
                timeout=30_000,  # a selector, not a script: the page's CSP forbids eval
            )
            times.append(time.perf_counter() - started)
            page.close()
        browser.close()
    measured = times[1:]
    return {"first_load_s": round(statistics.median(measured), 3),
            "first_load_best_s": round(min(measured), 3)}


def thousand_channel_site() -> str:
    """A site file with 1,000 channels (200 instruments of five channels)."""
    lines = [
        "reservoir:",
        "  {code: big, name: Big Reservoir, name_zh: 大水库, timezone: Asia/Shanghai,",
        "   levels: {dead: 100, normal: 140, flood_control: 138, design_flood: 142,",
        "            check_flood: 143, crest: 145},",
        "   storage_curve: [{level: 90, storage: 0, area: 0},",
        "                   {level: 145, storage: 1e7, area: 1e6}]}",
        "dam: {type: gravity, height: 60, crest_length: 300, crest_elevation: 145}",
        "instruments:",
    ]
    for i in range(200):
        lines += [f"  - code: T{i}", "    type: thermometer", "    channels:"]
        lines += [
            f"      - {{code: T{i}.{k}, quantity: temperature, unit: degC}}" for k in range(5)
        ]
    return "\n".join(lines) + "\n"


def latest_state(workdir: Path, requests: int) -> dict[str, float]:
    """Median time of ``GET /api/latest`` for 1,000 channels with 100 readings each."""
    url = f"sqlite:///{workdir / 'big.db'}"
    store = open_store(url)
    text = thousand_channel_site()
    store.save_site(parse_site(text), text)
    ids = np.array([c.id for c in store.channels(store.site().id)], dtype=np.int64)
    hours = np.arange(100, dtype=np.int64) * 3_600_000_000
    start = 1_735_689_600_000_000
    store.write_readings(ReadingBatch(
        channel_id=np.repeat(ids, len(hours)), time_us=start + np.tile(hours, len(ids)),
        value=np.random.default_rng(0).normal(10, 1, len(ids) * len(hours)),
        raw=np.full(len(ids) * len(hours), np.nan),
    ))
    store.close()
    with serving(url) as base, httpx.Client(base_url=base) as client:
        assert len(client.get("/api/latest").json()) == 1000
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get("/api/latest").raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return {"latest_1000_median_ms": round(statistics.median(times), 1),
            "latest_1000_p90_ms": round(float(np.percentile(times, 90)), 1)}


async def _client(base: str, updates: int, arrivals: list[float], ready: asyncio.Event,
                  connected: list[int]) -> int:
    got = 0
    async with httpx.AsyncClient(timeout=60) as client:
        async with client.stream("GET", f"{base}/api/events") as response:
            kind = ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    kind = line.removeprefix("event:").strip()
                    if kind == "hello":
                        connected.append(1)
                        ready.set()
                elif line.startswith("data:") and kind == "reading":
                    arrivals.append(time.perf_counter())
                    got += 1
                    if got >= updates:
                        return got
    return got


def live_clients(workdir: Path, clients: int, updates: int) -> dict[str, float]:
    """Every one of ``clients`` event-stream clients receives each of ``updates`` readings."""
    url = f"sqlite:///{workdir / 'live.db'}"
    store = open_store(url)
    build_demo(store, days=7)
    ingestor = Ingestor(store, store.site())
    stored_at: list[float] = []
    with serving(url) as base:
        arrivals: list[float] = []
        connected: list[int] = []

        async def run() -> list[int]:
            ready = asyncio.Event()
            tasks = [asyncio.create_task(_client(base, updates, arrivals, ready, connected))
                     for _ in range(clients)]
            while len(connected) < clients:
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # the watcher has seen the store as it is

            def write() -> None:
                now = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
                for k in range(updates):
                    stamp = (now + dt.timedelta(minutes=k)).isoformat()
                    stored_at.append(time.perf_counter())
                    ingestor.ingest_records(
                        [{"channel": "AT1", "time": stamp, "value": float(k)}], source="bench"
                    )
                    time.sleep(0.6)  # one update per poll of the watcher

            await asyncio.to_thread(write)
            return list(await asyncio.wait_for(asyncio.gather(*tasks), timeout=60))

        received = asyncio.run(run())
    store.close()
    delays = []
    ordered = sorted(arrivals)
    per_update = len(ordered) // max(updates, 1)
    for k, start in enumerate(stored_at):
        batch = ordered[k * per_update:(k + 1) * per_update]
        delays += [t - start for t in batch]
    return {
        "clients": clients,
        "updates": updates,
        "all_received": all(n == updates for n in received),
        "delivery_median_s": round(statistics.median(delays), 3),
        "delivery_p99_s": round(float(np.percentile(delays, 99)), 3),
    }


def main() -> None:
    """Run the three measurements and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, a 60-day demo")
    args = parser.parse_args()
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if Path(CHROMIUM).exists():
            demo_url = f"sqlite:///{workdir / 'demo.db'}"
            store = open_store(demo_url)
            build_demo(store, days=60 if args.quick else 1095)
            store.close()
            with serving(demo_url) as base:
                figures |= first_load(base, 2 if args.quick else 5)
            print(f"first load: {figures}", file=sys.stderr)
        else:
            figures["first_load_s"] = None
            print(f"first load skipped: no browser at {CHROMIUM}", file=sys.stderr)
        figures |= latest_state(workdir, 20 if args.quick else 100)
        print(f"latest state: {figures}", file=sys.stderr)
        figures |= live_clients(workdir, 100, 3 if args.quick else 10)
    figures["targets"] = {"first_load_s": 1.5, "latest_1000_median_ms": 50}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""Benchmark: ingest a long CSV of raw readings into SQLite and PostgreSQL, against the floor.

The file is ``channel,time,raw`` for vibrating-wire channels, so parsing, validation (channel,
time, number, limits, future) and conversion (linear gauge factor, piezometric head) are all
timed. The floor is the bare database write of the same rows, already parsed:

- SQLite: one ``executemany`` of Python tuples into the same table;
- PostgreSQL: one binary ``COPY`` of the same rows into the same table.

Each measured run is a fresh child process on a fresh database, so peak memory (max RSS) is the
ingest's own. Usage: ``python bench/ingest.py [--quick] [--rows N] [--backend sqlite|postgresql]``.
The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import drop, fresh_url

CHANNELS = 100


def site_yaml() -> str:
    """A site with CHANNELS vibrating-wire piezometers (linear gauge factor, head in m)."""
    lines = [
        "reservoir:",
        "  {code: bench, name: Bench Reservoir, name_zh: 基准水库, timezone: Asia/Shanghai,",
        "   levels: {dead: 100, normal: 140, flood_control: 138, design_flood: 142,",
        "            check_flood: 143, crest: 145},",
        "   storage_curve: [{level: 90, storage: 0, area: 0},",
        "                   {level: 145, storage: 1e7, area: 1e6}]}",
        "dam: {type: gravity, height: 60, crest_length: 300, crest_elevation: 145}",
        "instruments:",
    ]
    for i in range(CHANNELS):
        lines += [
            f"  - code: P{i}",
            "    type: piezometer",
            "    channels:",
            f"      - code: P{i}.head",
            "        quantity: piezometric_head",
            "        unit: m",
            "        limits: {min: 80, max: 200}",
            "        conversion: {kind: vw_linear, gauge_factor: -0.1, zero_reading: 9000,"
            " sensor_elevation: 95}",
        ]
    return "\n".join(lines) + "\n"


def write_csv(path: Path, rows: int) -> None:
    """Write ``rows`` raw readings: CHANNELS channels, hourly, times with the site's offset."""
    per_channel = rows // CHANNELS
    start = np.datetime64("2015-01-01T00:00:00")
    chunk = 2_000  # hours per chunk: 200,000 rows
    with path.open("w") as f:
        f.write("channel,time,raw\n")
        for first in range(0, per_channel, chunk):
            hours = np.arange(first, min(first + chunk, per_channel))
            times = np.datetime_as_string(start + hours.astype("timedelta64[h]"), unit="s")
            codes = np.repeat([f"P{i}.head" for i in range(CHANNELS)], len(hours))
            raw = 8000 + 500 * np.sin(np.tile(hours, CHANNELS) / 500.0)
            frame = pd.DataFrame(
                {"channel": codes, "time": np.tile(times, CHANNELS), "raw": np.round(raw, 2)}
            )
            frame.to_csv(f, header=False, index=False, lineterminator="\n")


def child(mode: str, url: str, csv_path: Path, site_path: Path) -> dict[str, float]:
    """One measured run in this (fresh) process: ``ours`` or ``floor``."""
    from shuian.readings import ReadingBatch
    from shuian.services.ingest import Ingestor
    from shuian.site import load_site
    from shuian.store import open_store

    store = open_store(url)
    store.save_site(load_site(site_path), site_path.read_text())
    stored = store.site()
    if mode == "ours":
        ingestor = Ingestor(store, stored)
        started = time.perf_counter()
        report = ingestor.ingest_file(csv_path)
        elapsed = time.perf_counter() - started
        stored_rows = report.accepted
    else:
        # Parse outside the timing: the floor writes rows that are already parsed.
        ids = {c.code: c.id for c in store.channels(stored.id)}
        frame = pd.read_csv(csv_path)
        times = pd.to_datetime(frame["time"]).dt.tz_localize("Asia/Shanghai")
        batch = ReadingBatch(
            channel_id=frame["channel"].map(ids).to_numpy(np.int64),
            time_us=times.dt.tz_convert("UTC").dt.tz_localize(None)
            .astype("datetime64[us]").to_numpy().astype(np.int64),
            value=frame["raw"].to_numpy(np.float64),
            raw=frame["raw"].to_numpy(np.float64),
        )
        stored_rows, elapsed = floor_write(store, batch)
    store.close()
    peak_mb = peak_rss_mb()
    return {"seconds": elapsed, "rows": stored_rows, "peak_mb": peak_mb}


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss, not inherited on exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def floor_write(store: object, batch: object) -> tuple[int, float]:
    """The bare write, timed: executemany of tuples (SQLite) or one binary COPY (PostgreSQL)."""
    from shuian.readings import ReadingBatch
    from shuian.store.base import Store
    from shuian.store.postgres import encode_copy

    assert isinstance(store, Store) and isinstance(batch, ReadingBatch)
    connection = store.engine.raw_connection()
    try:
        if store.engine.dialect.name == "sqlite":
            rows = list(zip(batch.channel_id.tolist(), batch.time_us.tolist(),
                            batch.value.tolist(), batch.raw.tolist(), strict=True))
            started = time.perf_counter()
            cursor = connection.cursor()
            cursor.executemany("INSERT INTO readings VALUES (?,?,?,?)", rows)
            connection.commit()
            return len(rows), time.perf_counter() - started
        data = encode_copy(batch)
        pg = connection.driver_connection
        years = range(2014, 2016 + len(batch) // CHANNELS // 8760 + 1)
        with pg.cursor() as cursor:
            for year in years:
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS readings_y{year} PARTITION OF readings FOR VALUES"
                    f" FROM ('{year}-01-01 00:00+00') TO ('{year + 1}-01-01 00:00+00')"
                )
            pg.commit()
            started = time.perf_counter()
            with cursor.copy("COPY readings FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(data)
            pg.commit()
            return len(batch), time.perf_counter() - started
    finally:
        connection.close()


def run_child(mode: str, backend: str, workdir: Path, csv_path: Path, site_path: Path) -> dict:
    """Run one measurement in a fresh process and database."""
    url = fresh_url(backend, workdir)
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--url", url, "--csv", str(csv_path),
             "--site", str(site_path)],
            check=True, capture_output=True, text=True,
        ).stdout
    finally:
        drop(url)
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    """Parse arguments, build the file, measure ours and the floor on each backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500,000 rows (under a minute)")
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--child", choices=["ours", "floor"])
    parser.add_argument("--url")
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--site", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.url, args.csv, args.site)))
        return
    rows = 500_000 if args.quick else args.rows
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    figures: dict[str, object] = {"rows": rows}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        csv_path, site_path = workdir / "readings.csv", workdir / "site.yaml"
        site_path.write_text(site_yaml())
        write_csv(csv_path, rows)
        figures["file_mb"] = round(csv_path.stat().st_size / 1e6, 1)
        for backend in backends:
            ours = run_child("ours", backend, workdir, csv_path, site_path)
            floor = run_child("floor", backend, workdir, csv_path, site_path)
            assert ours["rows"] == floor["rows"] == rows // CHANNELS * CHANNELS, (ours, floor)
            figures[backend] = {
                "readings_per_s": round(ours["rows"] / ours["seconds"]),
                "floor_readings_per_s": round(floor["rows"] / floor["seconds"]),
                "ratio_to_floor": round(floor["seconds"] / ours["seconds"], 3),
                "seconds": round(ours["seconds"], 2),
                "floor_seconds": round(floor["seconds"], 2),
                "peak_mb": round(ours["peak_mb"]),
            }
            print(f"{backend}: {figures[backend]}", file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""Benchmark: ingest a long CSV of raw readings into SQLite and PostgreSQL, against the floor.

The file is ``channel,time,raw`` for vibrating-wire channels, so parsing, validation (channel,
time, number, limits, future) and conversion (linear gauge factor, piezometric head) are all
timed. The floor is the fastest plain write of the same rows, already parsed (and encoded):

- SQLite: one ``executemany`` of Python tuples into the same table, one commit;
- PostgreSQL: binary ``COPY`` of the same rows into the same table in blocks of
  :data:`FLOOR_BLOCK_ROWS` rows, a commit after each (faster than one giant COPY; ``--sweep``
  measures the block sizes).

Ingest is timed twice: analysis off (``Ingestor`` alone: against the floor) and analysis on
(an ``Analyzer`` judging each committed block, as ``shuian ingest`` runs by default).

Each timed run is a fresh child process (forked from a server that has only imported the
modules) on a fresh database; the peak memory (max RSS) is taken from one more run of each in a
new interpreter, as ``shuian ingest`` starts. The timed runs are interleaved (ours, floor,
analysis, then the other way round, for ``--rounds`` rounds), and each ratio is the median of
the per-round ratios, with their min and max: on a loaded machine two runs a minute apart
differ by more than ours and the floor do.
Usage: ``python bench/ingest.py [--quick] [--rows N] [--rounds N] [--backend sqlite|postgresql]
[--sweep]``. The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common import drop, fresh_url, interleaved, pairwise

CHANNELS = 100
#: Rows per binary COPY of the PostgreSQL floor: the fastest of 25k-200k and one COPY of all
#: (``--sweep``; measured here 2026-12-02, see the README).
FLOOR_BLOCK_ROWS = 200_000
#: Block sizes that ``--sweep`` compares (0: one COPY of every row).
SWEEP_BLOCK_ROWS = (25_000, 50_000, 100_000, 200_000, 0)


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


def child(mode: str, url: str, csv_path: Path, site_path: Path, block_rows: int) -> dict[str, Any]:
    """One measured run in this (fresh) process: ``ours``, ``analysis`` or ``floor``."""
    from shuian.readings import ReadingBatch
    from shuian.services.analysis import Analyzer
    from shuian.services.ingest import Ingestor
    from shuian.site import load_site
    from shuian.store import open_store

    store = open_store(url)
    store.save_site(load_site(site_path), site_path.read_text())
    stored = store.site()
    judged = 0
    if mode in ("ours", "analysis"):
        # As 'shuian ingest' builds it (cli/data.py): --analyze (the default) adds the Analyzer.
        analyzer = Analyzer(store, stored) if mode == "analysis" else None
        ingestor = Ingestor(store, stored, analyzer=analyzer)
        started = time.perf_counter()
        report = ingestor.ingest_file(csv_path)
        elapsed = time.perf_counter() - started
        stored_rows = report.accepted
        judged = ingestor.evaluation.readings
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
        del frame, times
        stored_rows, elapsed = floor_write(store, batch, block_rows)
    store.close()
    peak_mb = peak_rss_mb()
    return {"seconds": elapsed, "rows": stored_rows, "peak_mb": peak_mb, "judged": judged}


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss, not inherited on exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def floor_write(store: object, batch: object, block_rows: int) -> tuple[int, float]:
    """The bare write, timed: executemany of tuples (SQLite) or binary COPY in blocks (PostgreSQL).

    PostgreSQL: ``block_rows`` rows per COPY, a commit after each (0: one COPY of all rows);
    the blocks are encoded before the clock starts, as the SQLite tuples are built before it.
    """
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
        size = block_rows or len(batch)
        blocks = [
            encode_copy(ReadingBatch(
                channel_id=batch.channel_id[i : i + size], time_us=batch.time_us[i : i + size],
                value=batch.value[i : i + size], raw=batch.raw[i : i + size],
            ))
            for i in range(0, len(batch), size)
        ]
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
            for data in blocks:
                with cursor.copy("COPY readings FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(data)
                pg.commit()
            return len(batch), time.perf_counter() - started
    finally:
        connection.close()


#: What the fork server imports once, so that each fresh child starts in milliseconds.
PRELOAD = ["pandas", "shuian.services.analysis", "shuian.services.ingest", "shuian.site",
           "shuian.store", "shuian.store.postgres", "shuian.store.sqlite"]


@contextmanager
def fresh_processes() -> Iterator[Callable[..., dict[str, Any]]]:
    """Run each call in a fresh process, forked from a server that has only imported PRELOAD.

    Its peak memory is that of a process that imported the same modules and ran the call alone
    (what ``python bench/ingest.py --child`` would use), without the seconds of imports.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    with ProcessPoolExecutor(1, mp_context=context, max_tasks_per_child=1) as pool:
        def call(*args: Any) -> dict[str, Any]:
            result: dict[str, Any] = pool.submit(child, *args).result()
            return result

        yield call


def exec_child(mode: str, url: str, csv_path: Path, site_path: Path,
               block_rows: int = FLOOR_BLOCK_ROWS) -> dict[str, Any]:
    """One run in a new interpreter (``--child``): the peak memory of a process that imports
    everything itself, as ``shuian ingest`` does."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--url", url, "--csv", str(csv_path),
         "--site", str(site_path)],
        check=True, capture_output=True, text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def run_child(
    run: Callable[..., dict[str, Any]], mode: str, backend: str, workdir: Path, csv_path: Path,
    site_path: Path, block_rows: int = FLOOR_BLOCK_ROWS,
) -> dict[str, Any]:
    """Run one measurement in a fresh process and database."""
    url = fresh_url(backend, workdir)
    try:
        return run(mode, url, csv_path, site_path, block_rows)
    finally:
        drop(url)


def measure(run: Callable[..., dict[str, Any]], backend: str, rounds: int, workdir: Path,
            csv_path: Path, site_path: Path, rows: int, with_exec_peak: bool) -> dict[str, Any]:
    """Ours, the floor and ours with analysis on, interleaved; medians and pairwise ratios.

    ``peak_mb`` comes from a run in a new interpreter (``with_exec_peak``; not with --quick, to
    keep it under a minute); ``forked_peak_mb`` from the timed runs, forked from the server,
    which counts the shared library pages only where the run touches them (lower).
    """
    runs = interleaved(
        {
            mode: (lambda mode=mode: run_child(run, mode, backend, workdir, csv_path, site_path))
            for mode in ("ours", "floor", "analysis")
        },
        rounds,
    )
    expected = rows // CHANNELS * CHANNELS
    for mode, results in runs.items():
        assert all(r["rows"] == expected for r in results), (mode, results)
    assert all(r["judged"] > 0 for r in runs["analysis"]), runs["analysis"]
    if with_exec_peak:
        # Peak memory does not need interleaving: once per mode, in a new interpreter.
        peaks = {mode: run_child(exec_child, mode, backend, workdir, csv_path, site_path)
                 for mode in ("ours", "analysis")}
    seconds = {mode: [r["seconds"] for r in results] for mode, results in runs.items()}
    ratio = pairwise(seconds["floor"], seconds["ours"])
    analysis_ratio = pairwise(seconds["floor"], seconds["analysis"])
    slowdown = pairwise(seconds["analysis"], seconds["ours"])
    median = {mode: statistics.median(values) for mode, values in seconds.items()}
    return {
        "readings_per_s": round(expected / median["ours"]),
        "floor_readings_per_s": round(expected / median["floor"]),
        "ratio_to_floor": ratio["median"],
        "ratio_to_floor_min": ratio["min"],
        "ratio_to_floor_max": ratio["max"],
        "analysis_readings_per_s": round(expected / median["analysis"]),
        "analysis_ratio_to_floor": analysis_ratio["median"],
        "analysis_ratio_to_floor_min": analysis_ratio["min"],
        "analysis_ratio_to_floor_max": analysis_ratio["max"],
        "analysis_slowdown": slowdown["median"],
        "analysis_slowdown_min": slowdown["min"],
        "analysis_slowdown_max": slowdown["max"],
        "seconds": [round(v, 2) for v in seconds["ours"]],
        "floor_seconds": [round(v, 2) for v in seconds["floor"]],
        "analysis_seconds": [round(v, 2) for v in seconds["analysis"]],
        "peak_mb": round(peaks["ours"]["peak_mb"]) if with_exec_peak else None,
        "analysis_peak_mb": round(peaks["analysis"]["peak_mb"]) if with_exec_peak else None,
        "forked_peak_mb": round(max(r["peak_mb"] for r in runs["ours"])),
        "analysis_forked_peak_mb": round(max(r["peak_mb"] for r in runs["analysis"])),
        "rounds": rounds,
        "floor": (
            "one executemany of tuples" if backend == "sqlite"
            else f"binary COPY in blocks of {FLOOR_BLOCK_ROWS:,} rows, a commit each"
        ),
    }


def sweep(run: Callable[..., dict[str, Any]], rounds: int, workdir: Path, csv_path: Path,
          site_path: Path) -> dict[str, Any]:
    """The PostgreSQL floor at each of SWEEP_BLOCK_ROWS, interleaved: rows/s per block size."""
    runs = interleaved(
        {
            str(size): (lambda size=size: run_child(run, "floor", "postgresql", workdir, csv_path,
                                                    site_path, size))
            for size in SWEEP_BLOCK_ROWS
        },
        rounds,
    )
    per_s = {
        size: round(statistics.median(r["rows"] / r["seconds"] for r in results))
        for size, results in runs.items()
    }
    # Against one COPY of all rows, round by round.
    whole = [r["seconds"] for r in runs["0"]]
    return {
        "floor_readings_per_s": per_s,
        "speedup_over_one_copy": {
            size: pairwise(whole, [r["seconds"] for r in results])["median"]
            for size, results in runs.items() if size != "0"
        },
        "fastest_block_rows": int(max(per_s, key=lambda size: per_s[size])),
    }


def main() -> None:
    """Parse arguments, build the file, measure ours and the floor on each backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="100,000 rows, 2 rounds (under a minute)")
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--sweep", action="store_true",
                        help="PostgreSQL floor only, at several rows per COPY")
    parser.add_argument("--child", choices=["ours", "analysis", "floor"],
                        help="(internal) one run in this process, for the peak memory")
    parser.add_argument("--url")
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--site", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.url, args.csv, args.site, FLOOR_BLOCK_ROWS)))
        return
    rows, rounds = (100_000, 2) if args.quick else (args.rows, args.rounds)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    figures: dict[str, object] = {"rows": rows}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        csv_path, site_path = workdir / "readings.csv", workdir / "site.yaml"
        site_path.write_text(site_yaml())
        write_csv(csv_path, rows)
        figures["file_mb"] = round(csv_path.stat().st_size / 1e6, 1)
        with fresh_processes() as run:
            if args.sweep:
                figures["postgresql_floor_sweep"] = sweep(run, rounds, workdir, csv_path,
                                                          site_path)
            else:
                for backend in backends:
                    figures[backend] = measure(run, backend, rounds, workdir, csv_path,
                                               site_path, rows, not args.quick)
                    print(f"{backend}: {figures[backend]}", file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

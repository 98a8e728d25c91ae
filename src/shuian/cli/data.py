"""Commands on the site and its data.

``init``, ``ingest``, ``channels``, ``status``, ``readings``, ``rejected``, ``demo``, ``serve``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shuian import __version__
from shuian.cli.common import (
    DbOption,
    JsonOption,
    PortOption,
    app,
    deliver_queued,
    err,
    iso_local,
    marked,
    out,
    print_json,
    store_for,
    user_errors,
)
from shuian.faults import printable
from shuian.store import DEFAULT_URL

if TYPE_CHECKING:
    from rich.progress import Progress

    from shuian.services.telemetry import Listeners
    from shuian.store import Store

@app.command()
def init(
    site: Annotated[Path, typer.Option("--site", help="The site file (YAML).")],
    db: DbOption = DEFAULT_URL,
) -> None:
    """Create or update the store from a site file (validated; every problem is listed)."""
    from shuian.site import load_site

    with store_for(db) as store:
        model = load_site(site)
        store.save_site(model, site.read_text(encoding="utf-8"))
        r = model.reservoir
        out.print(
            f"site {r.code} ({r.name} / {r.name_zh}): {len(model.instruments)} instruments, "
            f"{len(model.channels())} channels saved in {db}"
        )


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="Long-CSV or TOA5 files.")],
    db: DbOption = DEFAULT_URL,
    as_json: JsonOption = False,
    analyze: Annotated[
        bool, typer.Option("--analyze/--no-analyze", help="Judge the new readings as they land.")
    ] = True,
    encoding: Annotated[
        str | None,
        typer.Option("--encoding", help="The files' encoding: utf-8, gbk or gb18030 (default: "
                                        "UTF-8, or GB18030 for a file that is that and not "
                                        "UTF-8)."),
    ] = None,
) -> None:
    """Ingest data files; rejected rows are kept with their reason (see 'shuian rejected').

    Each committed block is judged at once (checks, thresholds, models, alarms) unless
    ``--no-analyze``. A line that cannot be read (not text in the encoding, a NUL byte, a CR
    inside it, longer than 64 KiB, not CSV) is rejected with its file and line; the rest goes in.
    """
    from shuian.ingest.files import Encoding, check_encoding, detect_encoding
    from shuian.services.analysis import Analyzer
    from shuian.services.ingest import Ingestor, IngestReport

    with store_for(db) as store:
        given = None if encoding is None else Encoding(check_encoding(encoding))
        stored = store.site()
        ingestor = Ingestor(store, stored, analyzer=Analyzer(store, stored) if analyze else None)
        total = IngestReport()
        read_as: dict[str, str] = {}
        show_progress = not as_json and err.is_terminal
        for path in files:
            chosen = given or detect_encoding(path)
            read_as[str(path)] = chosen.name
            if chosen.note is not None:
                err.print(f"{path}: {chosen.note}")
            with _progress() if show_progress else contextlib.nullcontext() as progress:
                advance: Callable[[int], None] | None = None
                if progress is not None:
                    task = progress.add_task(marked(path.name), total=_size(path))
                    advance = functools.partial(progress.advance, task)
                report = ingestor.ingest_file(path, encoding=chosen.name, on_progress=advance)
            total.add(report.accepted, report.duplicates, report.rejections)
            total.rejected += report.rejected - len(report.rejections)
        sent = deliver_queued(store) if ingestor.evaluation.notifications else {}
        analysis = ingestor.evaluation.as_json() | {"delivered": sent}
        if as_json:
            print_json(total.as_json() | {"encodings": read_as}
                       | ({"analysis": analysis} if analyze else {}))
            return
        out.print(
            f"accepted {total.accepted}, duplicates {total.duplicates}, rejected {total.rejected}"
        )
        if analyze:
            out.print(f"judged {analysis['readings']} readings: flags {analysis['flags']}, "
                      f"alarm steps {analysis['alarm_steps']}"
                      + (f", notifications sent {sent['sent']}, failed {sent['failed']}"
                         if sent else ""))
        for r in total.rejections[:10]:
            out.print(f"  {r.source}:{r.line}: {r.reason}")
        if total.rejected > 10:
            out.print(f"  ... {total.rejected - 10} more: 'shuian rejected' lists them all")


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _progress() -> Progress:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


@app.command()
def channels(db: DbOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """List the channels of the site."""
    from rich.table import Table

    with store_for(db) as store:
        stored = store.site()
        infos = store.channels(stored.id)
    rows = [
        {
            "code": c.code,
            "instrument": c.instrument,
            "type": c.type,
            "quantity": c.quantity,
            "unit": c.unit,
            "limit_min": c.limit_min,
            "limit_max": c.limit_max,
        }
        for c in infos
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("code", "instrument", "type", "quantity", "unit", "limits")
    for row in rows:
        limits = f"{_or_blank(row['limit_min'])} .. {_or_blank(row['limit_max'])}"
        table.add_row(*(str(row[k]) for k in ("code", "instrument", "type", "quantity", "unit")),
                      limits)
    out.print(table)


def _or_blank(value: object) -> str:
    return "" if value is None else str(value)


@app.command()
def status(db: DbOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """Summarise the store: site, channels, readings per instrument type, rejections."""
    with store_for(db) as store:
        stored = store.site()
        counts = store.reading_counts(stored.id)
        r = stored.site.reservoir
        summary = {
            "site": r.code,
            "name": r.name,
            "name_zh": r.name_zh,
            "synthetic": r.synthetic,
            "timezone": r.timezone,
            "channels": len(store.channels(stored.id)),
            "readings": counts["readings"],
            "rejected": store.rejection_count(stored.id),
            "first": iso_local(counts["first_us"], r.timezone),
            "last": iso_local(counts["last_us"], r.timezone),
            "readings_by_type": counts["by_type"],
        }
    if as_json:
        print_json(summary)
        return
    banner = " [bold yellow](SYNTHETIC DATA)[/]" if r.synthetic else ""
    out.print(f"[bold]{marked(r.name)} / {marked(r.name_zh)}[/] ({marked(r.code)}){banner}",
              markup=True)
    out.print(f"channels {summary['channels']}, readings {summary['readings']}, "
              f"rejected {summary['rejected']}")
    out.print(f"from {summary['first']} to {summary['last']}")
    for kind, n in sorted(counts["by_type"].items()):
        out.print(f"  {kind:<16} {n:>12}")


@app.command()
def readings(
    channel: Annotated[str, typer.Argument(help="Channel code.")],
    start: Annotated[str | None, typer.Option(help="From this time (ISO 8601).")] = None,
    end: Annotated[str | None, typer.Option(help="Up to this time, excluded (ISO 8601).")] = None,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Print a channel's readings as long CSV (channel,time,value), which 'ingest' takes back."""
    import pandas as pd

    from shuian.times import iso_utc, parse_time

    with store_for(db) as store:
        stored = store.site()
        info = store.channel(stored.id, channel)
        tz = stored.site.reservoir.timezone
        times, values = store.readings(
            info.id,
            parse_time(name="--start", text=start, timezone=tz),
            parse_time(name="--end", text=end, timezone=tz),
        )
    frame = pd.DataFrame({"channel": channel, "time": iso_utc(times_us=times), "value": values})
    frame.to_csv(sys.stdout, index=False, float_format="%.10g", lineterminator="\n")


@app.command()
def rejected(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    db: DbOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """List rejected rows with their source, line, reason and raw text."""
    with store_for(db) as store:
        stored = store.site()
        items = store.rejections(stored.id, limit=limit)
        total = store.rejection_count(stored.id)
    if as_json:
        print_json({"total": total, "items": [vars(i) for i in items]})
        return
    out.print(f"{total} rejected row(s); newest {len(items)}:")
    for i in items:
        out.print(f"{i.source}:{i.line}: {i.reason}")
        out.print(f"    {printable(i.raw)}")


@app.command()
def demo(
    days: Annotated[int, typer.Option(help="Days of synthetic history.", min=1)] = 1095,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve it after.")] = True,
    port: PortOption = 8000,
    db: DbOption = DEFAULT_URL,
    site_out: Annotated[
        Path | None,
        typer.Option(help="Also write the demo's site file here (to edit and 'shuian init' it)."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(help="End of the history (ISO 8601, site time unless an offset is given; "
                          "default: now): the same --end gives the same demo."),
    ] = None,
) -> None:
    """Build the Shimenzi demo reservoir (synthetic data) and serve the dashboard."""
    from shuian.readings import US_PER_S
    from shuian.services.demo import build_demo, demo_site_text
    from shuian.site import parse_site
    from shuian.times import parse_time

    zone = parse_site(demo_site_text()).reservoir.timezone
    end_us = parse_time(name="--end", text=end, timezone=zone)
    end_at = None if end_us is None else dt.datetime.fromtimestamp(end_us / US_PER_S, dt.UTC)
    with store_for(db) as store:
        with err.status(f"building {days} days of synthetic history ..."):
            summary = build_demo(store, days=days, end=end_at, site_file=site_out)
        r = summary.stored.site.reservoir
        where = f"site file {site_out}" if site_out is not None else "site file in the store"
        out.print(
            f"demo site {r.code} ({r.name} / {r.name_zh}), SYNTHETIC DATA: "
            f"{summary.readings} readings over {days} days in {db}; {where}"
        )
        if summary.camera_frames:
            out.print(f"  cameras: {len(summary.stored.site.cameras)}, {summary.camera_frames} "
                      "SYNTHETIC frames rendered in code (not real pictures), analysed")
        for fault in summary.faults:
            out.print(
                f"  injected fault: {fault.kind} on {fault.channel} "
                f"{fault.start:%Y-%m-%d %H:%M} .. {fault.end:%Y-%m-%d %H:%M} UTC: "
                f"{fault.description}"
            )
        fitted = [f for f in summary.fits if f.ok]
        found = summary.evaluation.as_json()
        out.print(
            f"models fitted: {len(fitted)} of {len(summary.fits)}; judged {found['readings']} "
            f"readings: flags {found['flags']}, alarm steps {found['alarm_steps']} "
            "('shuian alarms' lists them)"
        )
        if summary.admin_password is not None:
            out.print("user admin (role admin) created; 'shuian user passwd admin' changes it")
            out.print(f"admin password: {summary.admin_password} (shown once)")
    if serve_after:
        _serve(db, port)


@app.command()
def serve(
    port: PortOption = 8000,
    db: DbOption = DEFAULT_URL,
    worker: Annotated[bool, typer.Option(
        "--worker/--no-worker",
        help="Run the background jobs (notifications, no-data scans, model refits) in this "
             "process; --no-worker when 'shuian worker' runs them.")] = True,
) -> None:
    """Serve the HTTP API and the dashboard (and the background jobs: 'shuian jobs')."""
    with store_for(db):
        pass  # fail early, with a clear message, when the database cannot be opened
    _serve(db, port, worker=worker)


def _serve(db: str, port: int, *, worker: bool = True) -> None:
    import uvicorn

    from shuian.api.app import create_app
    from shuian.services.worker import Worker, default_kinds
    from shuian.settings import settings

    with user_errors():
        process = settings()  # a wrong SHUIAN_ variable is one line, before anything starts

    def make_worker(store: Store) -> Worker:
        return Worker(store, default_kinds(), threads=3, lease_s=process.worker_lease_s,
                      poll_s=process.worker_poll_s)

    worker = worker and process.worker_enabled
    with store_for(db) as store:
        listeners = _listeners(store)
        out.print(f"Shuian {__version__} serving http://127.0.0.1:{port} (API docs: /docs)")
        _start(listeners)
        app = create_app(db, worker=make_worker if worker else None, listeners=listeners)
        try:
            uvicorn.run(
                app, host="127.0.0.1", port=port, log_level="warning",
                proxy_headers=False,  # the app believes X-Forwarded-For only from its proxies
            )
        finally:
            for site in listeners:
                site.stop()


def _listeners(store: Store) -> list[Listeners]:
    """The telemetry listeners of every site of the store that configures some."""
    from shuian.services.telemetry import Listeners

    sites = [store.site(code) for code in store.sites()]
    return [Listeners(store, stored) for stored in sites if stored.site.telemetry.configured]


def _start(listeners: list[Listeners], settle_s: float = 2.0) -> None:
    """Start the listeners, say what listens for which site, and warn of any that failed.

    A source that reports an error within ``settle_s`` seconds (a port already taken, a broker
    that cannot be reached) is named with its error; it keeps trying (a port is not retried).
    """
    import time

    for site in listeners:
        site.start()
        code = site.stored.site.reservoir.code
        out.print(f"listening for {code}: {', '.join(site.sources)}")
    deadline = time.monotonic() + settle_s
    while True:
        statuses = [(site.stored.site.reservoir.code, name, status)
                    for site in listeners for name, status in site.status().items()]
        failing = [(code, name, status["last_error"]) for code, name, status in statuses
                   if status["last_error"] and not status["connected"]]
        settled = all(status["connected"] for _, _, status in statuses)
        if failing or settled or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for code, name, error in failing:
        err.print(f"warning: {code} {name}: {error}")


@app.command()
def listen(db: DbOption = DEFAULT_URL) -> None:
    """Run the sites' telemetry listeners (MQTT, SL 651, Modbus) alone, until Ctrl-C.

    The alarms' notifications are delivered from the outbox meanwhile (the worker's
    deliver_notifications job).
    """
    import threading

    from shuian.services.worker import DELIVER_NOTIFICATIONS, Worker, default_kinds
    from shuian.settings import settings
    from shuian.sources.registry import SOURCES

    with store_for(db) as store:
        listeners = _listeners(store)
        if not listeners:
            sections = ", ".join(f"{kind}:" for kind in SOURCES)
            err.print(f"error: no site file configures telemetry (add a telemetry: section "
                      f"with one of {sections})")
            raise typer.Exit(1)
        _start(listeners)
        kinds = default_kinds()
        process = settings()
        worker = Worker(store, {DELIVER_NOTIFICATIONS: kinds[DELIVER_NOTIFICATIONS]},
                        lease_s=process.worker_lease_s, poll_s=process.worker_poll_s)
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), name="shuian-worker",
                                  daemon=True)
        thread.start()
        out.print("Ctrl-C stops")
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            for site in listeners:
                site.stop()
            stop.set()
            thread.join()


def main() -> None:
    """Entry point of the ``shuian`` console script."""
    app()

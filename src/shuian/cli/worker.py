"""The background worker's commands: ``worker`` runs the jobs, ``jobs`` lists them.

Only typer and rich are imported here; the services are imported inside the commands, so that
``shuian --help`` stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from shuian.cli.common import DbOption, JsonOption, app, out, print_json, store_for, user_errors
from shuian.store import DEFAULT_URL

if TYPE_CHECKING:
    from shuian.services.worker import JobRun, Worker
    from shuian.store.jobs import StoredJob

#: Jobs one ``shuian worker --once`` runs at most.
MAX_ONCE = 1_000


@app.command()
def worker(
    db: DbOption = DEFAULT_URL,
    once: Annotated[bool, typer.Option(
        "--once", help="Run the jobs that are due now, then exit (from cron, say).")] = False,
    lease_s: Annotated[float | None, typer.Option(
        "--lease-s", min=1.0,
        help="Seconds a job is held without renewal: how long a killed worker's job waits "
             "for another worker [default: $SHUIAN_WORKER_LEASE_S or 60].")] = None,
    poll_s: Annotated[float | None, typer.Option(
        "--poll-s", min=0.01,
        help="Seconds between two looks for due jobs [default: $SHUIAN_WORKER_POLL_S or 1].",
    )] = None,
    threads: Annotated[int, typer.Option(
        "--threads", min=1, max=16,
        help="Jobs run at once (the cameras' watch holds one).")] = 3,
    as_json: JsonOption = False,
) -> None:
    """Run the background jobs (notifications, no-data scans, model refits) until stopped.

    Ctrl-C or SIGTERM stops it after the jobs running (a second one at once). Any number of
    workers may share a database: a job runs in one of them at a time.
    """
    import logging
    import signal
    import threading

    from shuian.services.worker import Worker, default_kinds
    from shuian.settings import settings

    with user_errors():
        process = settings()
    with store_for(db) as store:
        # The cameras' watch stands for a shift: not a job --once can wait for.
        runner = Worker(store, default_kinds(cameras=not once), threads=threads,
                        lease_s=process.worker_lease_s if lease_s is None else lease_s,
                        poll_s=process.worker_poll_s if poll_s is None else poll_s)
        if once:
            runner.ensure_jobs()
            ran = _once(runner)
            if as_json:
                print_json({"ran": [_run_json(r) for r in ran]})
            for r in ran if not as_json else []:
                out.print(f"{r.job.name:<24} " + ("ok " + _summary(r.result) if r.ok
                                                   else f"failed: {r.error}"))
            return
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        stop = threading.Event()

        def on_signal(signum: int, _frame: Any) -> None:
            stop.set()
            signal.signal(signum, signal.SIG_DFL)  # a second one ends the process at once

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, on_signal)
        out.print(f"worker {runner.owner}: {', '.join(runner.handlers)}; Ctrl-C stops")
        runner.run(stop)


def _once(runner: Worker) -> list[JobRun]:
    """Run the due jobs one after the other, each at most once (:data:`MAX_ONCE` in all)."""
    ran: list[JobRun] = []
    names: set[str] = set()
    while len(ran) < MAX_ONCE:
        found = runner.run_once()
        if found is None:
            break
        ran.append(found)
        if found.job.name in names:  # due again already (a short period): that is enough
            break
        names.add(found.job.name)
    return ran


def _summary(result: Any) -> str:
    import json

    return json.dumps(result, ensure_ascii=False, default=str)[:200]


def _run_json(run: JobRun) -> dict[str, Any]:
    return {"job": run.job.name, "kind": run.job.kind, "ok": run.ok, "error": run.error,
            "fault": None if run.fault is None else run.fault.value, "result": run.result,
            "retry_at": _iso(run.retry_at_us), "kept": run.kept}


@app.command()
def jobs(
    db: DbOption = DEFAULT_URL,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, at most.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """List the background jobs: when each runs next, who holds it, how it last ended."""
    with store_for(db) as store:
        found = store.jobs(limit=limit)
    if as_json:
        print_json({"jobs": [_job_json(j) for j in found]})
        return
    table = Table("job", "state", "every", "next run (UTC)", "held by", "tries", "last error")
    table.columns[0].no_wrap = True
    for j in found:
        row = _job_json(j)
        table.add_row(
            j.name, j.state, "once" if j.period_s is None else f"{j.period_s:g} s",
            (row["next_run"] or "")[:19].replace("T", " "),
            (j.lease_owner or "") if j.lease_until_us else "", str(j.attempts),
            (j.last_error or "")[:120],
        )
    out.print(table)


def _job_json(job: StoredJob) -> dict[str, Any]:
    """A job as JSON, its times ISO 8601 UTC (as ``GET /api/jobs`` answers them)."""
    return {
        "name": job.name, "kind": job.kind, "state": job.state, "period_s": job.period_s,
        "payload": job.payload, "next_run": _iso(job.next_run_us),
        "lease_owner": job.lease_owner, "lease_until": _iso(job.lease_until_us),
        "runs": job.runs, "attempts": job.attempts, "last_start": _iso(job.last_start_us),
        "last_end": _iso(job.last_end_us), "last_error": job.last_error,
    }


def _iso(time_us: int | None) -> str | None:
    """µs since 1970 UTC as ISO 8601 ending in Z."""
    import numpy as np

    from shuian.times import iso_utc

    return None if time_us is None else iso_utc(times_us=np.array([time_us]))[0]

"""A worker in a process of its own, for the tests of tests/test_worker.py.

``python tests/job_runner.py URL OWNER race LOG READY GO``
    Runs the jobs of kind ``count`` (each appends ``NAME OWNER`` to LOG) once the file GO
    exists (it writes READY first), until every job of the store has run; then exits.

``python tests/job_runner.py URL OWNER block STARTED``
    Runs the jobs of kind ``block`` (lease 5 s): each writes STARTED and then waits for ever,
    its lease renewed, until the process is killed.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from shuian.services.worker import JobContext, JobKind, Worker
from shuian.store import open_store


def race(url: str, owner: str, log: Path, ready: Path, go: Path) -> None:
    store = open_store(url)
    pause = threading.Event()  # never set: waits below end on their timeout or condition

    def count(context: JobContext) -> None:
        with log.open("a", encoding="utf-8") as f:
            f.write(f"{context.job.name} {context.owner}\n")
        pause.wait(0.01)  # the job's work: long enough for the other process to overlap

    worker = Worker(store, {"count": JobKind(count)}, owner=owner, poll_s=0.01)
    ready.touch()
    while not go.exists():
        pause.wait(0.01)
    while not all(job.runs and job.state == "scheduled" for job in store.jobs()):
        if worker.run_once() is None:
            pause.wait(0.01)
    store.close()


def block(url: str, owner: str, started: Path) -> None:
    store = open_store(url)

    def forever(context: JobContext) -> None:
        started.write_text(context.job.name, encoding="utf-8")
        threading.Event().wait()

    Worker(store, {"block": JobKind(forever)}, owner=owner, lease_s=5.0,
           poll_s=0.01).run(threading.Event())


if __name__ == "__main__":
    url, owner, mode, *paths = sys.argv[1:]
    if mode == "race":
        race(url, owner, *map(Path, paths))
    else:
        block(url, owner, Path(paths[0]))

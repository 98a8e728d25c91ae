"""The background worker: jobs kept in the store, each claimed by one worker under a lease.

Runs on SQLite and PostgreSQL, with workers in threads (each with its own store, as another
process would have) and in processes of their own (tests/job_runner.py).

Specification (issue 12, item 3):
- a periodic job that many workers race for runs in one of them, once per period: two Worker
  objects, and two processes; and never in two at once;
- a worker killed mid-job leaves its job to another once its lease is over, and not before; a
  worker alive keeps its lease renewed however long its job runs;
- a job that fails for the system's fault is tried again after the back-off, its error kept; a
  one-off job is given up after its last attempt, or at once when the fault is its input's;
- a one-off job runs once with its payload, which is bounded;
- ``shuian worker --once`` runs what is due, ``shuian worker`` stops on SIGTERM, ``shuian jobs``
  lists the jobs; the built-in kinds deliver the outbox and refit the models.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import Api, eventually
from shuian.cli import app
from shuian.errors import InvalidRequestError, StoreUnavailableError, TooLargeError
from shuian.faults import Fault
from shuian.notify import RetryPolicy
from shuian.services.worker import (
    APPLY_RETENTION,
    DELIVER_NOTIFICATIONS,
    REFIT_MODELS,
    SCAN_NO_DATA,
    WATCH_CAMERAS,
    JobContext,
    JobKind,
    Worker,
    default_kinds,
)
from shuian.store import Store, open_store
from shuian.store.jobs import MAX_JOB_PAYLOAD, JobSchedule
from test_analysis import END, Scene, history  # noqa: F401 - fixtures
from test_outbox import Hook, events, hook, keep, save_site  # noqa: F401 - fixtures

RUNNER = Path(__file__).parent / "job_runner.py"
SHUIAN = Path(sys.executable).parent / "shuian"
SECOND = 1_000_000
HOUR_S = 3_600.0


@dataclass
class Clock:
    """A clock the test moves (µs since 1970)."""

    now_us: int = 1_800_000_000 * SECOND

    def __call__(self) -> int:
        return self.now_us

    def advance(self, seconds: float) -> None:
        self.now_us += int(seconds * SECOND)


@dataclass
class Record:
    """A handler that keeps each run (job name, worker), and how many of one job ran at once."""

    work_s: float = 0.0
    runs: list[tuple[str, str]] = field(default_factory=list)
    running: Counter[str] = field(default_factory=Counter)
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    pause: threading.Event = field(default_factory=threading.Event)

    def __call__(self, context: JobContext) -> dict[str, Any]:
        name = context.job.name
        with self.lock:
            self.runs.append((name, context.owner))
            self.running[name] += 1
            self.most_at_once = max(self.most_at_once, self.running[name])
        self.pause.wait(self.work_s)  # the job's work (never set)
        with self.lock:
            self.running[name] -= 1
        return context.payload

    def names(self) -> Counter[str]:
        with self.lock:
            return Counter(name for name, _ in self.runs)

    def owners(self) -> set[str]:
        with self.lock:
            return {owner for _, owner in self.runs}


@contextmanager
def running(*workers: Worker) -> Iterator[None]:
    """The workers' loops in threads while the block runs; stopped and joined after it."""
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,), daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        assert not any(t.is_alive() for t in threads), "a worker did not stop"


@pytest.fixture
def other(store_url: str) -> Iterator[Store]:
    """A second store on the same database: another worker's own connections."""
    store = open_store(store_url)
    yield store
    store.close()


def periodic(store: Store, count: int, *, kind: str = "count", period_s: float = HOUR_S,
             now_us: int = 0) -> list[str]:
    """``count`` periodic jobs of ``kind``, due at ``now_us``; their names."""
    names = [f"{kind}-{i:02d}" for i in range(count)]
    store.ensure_jobs([JobSchedule(n, kind, period_s, now_us) for n in names], now_us=now_us)
    return names


# --- one worker at a time -------------------------------------------------------------------


def test_periodic_jobs_raced_by_two_workers_each_run_once(store: Store, other: Store) -> None:
    names = periodic(store, 30)
    record = Record(work_s=0.01)
    workers = [Worker(s, {"count": JobKind(record)}, owner=o, poll_s=0.01)
               for s, o in ((store, "one"), (other, "two"))]
    with running(*workers):
        eventually(lambda: all(j.state == "scheduled" and j.runs for j in store.jobs()),
                   timeout=60, what="every job run",
                   detail=lambda: f"{len(record.runs)} runs")
    assert record.names() == Counter(names), "a job ran twice"
    assert record.most_at_once == 1
    assert record.owners() == {"one", "two"}  # both took a share
    assert {j.runs for j in store.jobs()} == {1}
    hour = int(HOUR_S * SECOND)
    assert all(j.next_run_us - j.last_end_us == hour for j in store.jobs()
               if j.last_end_us is not None)


def test_periodic_jobs_raced_by_two_processes_each_run_once(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    names = periodic(store, 20)
    log, go = tmp_path / "runs.log", tmp_path / "go"
    processes = [
        subprocess.Popen([sys.executable, str(RUNNER), store_url, owner, "race", str(log),
                          str(tmp_path / f"{owner}.ready"), str(go)])
        for owner in ("one", "two")
    ]
    try:
        eventually(lambda: all((tmp_path / f"{o}.ready").exists() for o in ("one", "two")),
                   timeout=60, what="both processes ready")
        go.touch()
        for process in processes:
            assert process.wait(timeout=120) == 0
    finally:
        for process in processes:
            process.kill()
    runs = [line.split() for line in log.read_text(encoding="utf-8").splitlines()]
    assert Counter(name for name, _ in runs) == Counter(names), "a job ran twice"
    assert {owner for _, owner in runs} == {"one", "two"}  # both took a share
    assert {j.runs for j in store.jobs()} == {1}


def test_a_periodic_job_runs_again_after_its_period_in_whichever_worker_and_never_in_two_at_once(
    store: Store, other: Store
) -> None:
    record = Record(work_s=0.02)
    kinds = {"often": JobKind(record, period_s=0.05, first_after_s=0)}
    with running(Worker(store, kinds, owner="one", poll_s=0.01),
                 Worker(other, kinds, owner="two", poll_s=0.01)):
        eventually(lambda: record.names()["often"] >= 10, timeout=60, what="ten runs")
    assert record.most_at_once == 1
    (job,) = store.jobs()
    assert (job.name, job.kind, job.period_s, job.payload) == ("often", "often", 0.05, None)


# --- leases ---------------------------------------------------------------------------------


def test_a_worker_killed_mid_job_leaves_it_to_another_once_its_lease_is_over_not_before(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    job = store.enqueue_job("block", payload={"camera": "crest-1"}, now_us=0)
    started = tmp_path / "started"
    doomed = subprocess.Popen([sys.executable, str(RUNNER), store_url, "doomed", "block",
                               str(started)])
    try:
        eventually(started.exists, timeout=60, what="the doomed worker runs the job")
        eventually(lambda: store.job(job.name).lease_until_us
                   > store.job(job.name).last_start_us + 5 * SECOND,  # type: ignore[operator]
                   timeout=30, what="the doomed worker renewed its lease")
    finally:
        doomed.kill()
        doomed.wait()
    held = store.job(job.name)
    assert (held.state, held.lease_owner, held.runs) == ("running", "doomed", 1)
    assert held.lease_until_us is not None

    record = Record()
    kinds = {"block": JobKind(record)}
    at_lease_end = Worker(store, kinds, owner="taker", clock=lambda: held.lease_until_us or 0)
    assert at_lease_end.run_once() is None, "taken while the lease still held"
    taker = Worker(store, kinds, owner="taker")
    ran: list[Any] = []
    eventually(lambda: bool(ran.append(taker.run_once()) or ran[-1]), timeout=30,
               what="the job taken over")
    assert ran[-1].job.last_start_us > held.lease_until_us
    assert ran[-1].ok and ran[-1].result == {"camera": "crest-1"}
    done = store.job(job.name)
    assert (done.state, done.lease_owner, done.runs, done.lease_until_us) == (
        "done", "taker", 2, None)


def test_a_worker_keeps_its_lease_on_a_job_longer_than_the_lease(
    store: Store, other: Store
) -> None:
    release = threading.Event()

    def long_job(context: JobContext) -> None:
        release.wait(60)

    kinds = {"long": JobKind(long_job)}
    job = store.enqueue_job("long", now_us=0)
    holder = Worker(store, kinds, owner="holder", lease_s=1.0, poll_s=0.01)
    rival = Worker(other, kinds, owner="rival", lease_s=1.0)
    with running(holder):
        eventually(lambda: store.job(job.name).state == "running", what="the job runs")
        first = store.job(job.name)
        assert first.lease_until_us is not None and first.last_start_us is not None
        eventually(lambda: (store.job(job.name).lease_until_us or 0)
                   > first.last_start_us + 2_500_000,  # type: ignore[operator]
                   what="the lease renewed for 2.5 s", timeout=30)
        assert rival.run_once() is None, "the rival took a job whose holder is alive"
        release.set()
        eventually(lambda: store.job(job.name).state == "done", what="the job done")
    assert store.job(job.name).runs == 1


# --- failures -------------------------------------------------------------------------------


def test_a_job_failing_for_the_system_is_retried_with_back_off_then_given_up(
    store: Store
) -> None:
    clock = Clock()
    failures: list[int] = []

    def flaky(context: JobContext) -> None:
        failures.append(context.job.attempts)
        raise StoreUnavailableError("database x: connection refused")

    retry = RetryPolicy(attempts=3, backoff_s=(10, 60))
    worker = Worker(store, {"flaky": JobKind(flaky)}, retry=retry, clock=clock)
    job = store.enqueue_job("flaky", now_us=clock())

    first = worker.run_once()
    assert first is not None and not first.ok and first.fault is Fault.SYSTEM
    kept = store.job(job.name)
    assert (kept.state, kept.attempts, kept.last_error) == (
        "scheduled", 1, "database x: connection refused")
    assert kept.next_run_us == clock() + 10 * SECOND == first.retry_at_us

    clock.advance(10 - 1e-6)
    assert worker.run_once() is None  # not before its back-off
    clock.advance(1e-6)
    assert worker.run_once() is not None
    assert store.job(job.name).next_run_us == clock() + 60 * SECOND
    clock.advance(60)
    last = worker.run_once()
    assert last is not None and last.retry_at_us is None
    given_up = store.job(job.name)
    assert (given_up.state, given_up.attempts, given_up.last_error) == (
        "failed", 3, "database x: connection refused")
    assert failures == [1, 2, 3]
    clock.advance(3600)
    assert worker.run_once() is None


def test_a_periodic_job_failing_for_the_system_retries_within_its_period_and_recovers(
    store: Store
) -> None:
    clock = Clock()
    outcomes = [StoreUnavailableError("database x: locked"), OSError("disk full"), None]

    def sometimes(context: JobContext) -> None:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    retry = RetryPolicy(attempts=10, backoff_s=(10, 7200))
    worker = Worker(store, {"sometimes": JobKind(sometimes, period_s=HOUR_S, first_after_s=0)},
                    retry=retry, clock=clock)
    worker.ensure_jobs()
    assert worker.run_once() is not None
    assert store.job("sometimes").next_run_us == clock() + 10 * SECOND  # the back-off
    clock.advance(10)
    second = worker.run_once()
    assert second is not None and second.error == "OSError: disk full"
    after = store.job("sometimes")  # the back-off (2 h) is longer than the period: the period
    assert (after.next_run_us, after.attempts, after.last_error) == (
        clock() + int(HOUR_S * SECOND), 2, "OSError: disk full")
    clock.advance(HOUR_S)
    assert worker.run_once() is not None
    recovered = store.job("sometimes")
    assert (recovered.state, recovered.attempts, recovered.last_error) == ("scheduled", 0, None)
    assert recovered.next_run_us == clock() + int(HOUR_S * SECOND)


def test_a_job_failing_for_its_input_is_not_retried(store: Store) -> None:
    clock = Clock()

    def wrong(context: JobContext) -> None:
        raise InvalidRequestError(f"unknown channel(s) {context.payload.get('channels')}")

    worker = Worker(store, {"wrong": JobKind(wrong, period_s=HOUR_S, first_after_s=0)},
                    clock=clock)
    worker.ensure_jobs()
    one_off = store.enqueue_job("wrong", payload={"channels": ["X9"]}, now_us=clock())
    ran = [worker.run_once(), worker.run_once()]
    assert {r.job.name for r in ran if r is not None} == {"wrong", one_off.name}
    assert all(r is not None and r.fault is Fault.INPUT for r in ran)
    given_up = store.job(one_off.name)
    assert (given_up.state, given_up.attempts, given_up.last_error) == (
        "failed", 1, "unknown channel(s) ['X9']")
    waiting = store.job("wrong")  # the periodic job: at its next period, the error kept
    assert (waiting.state, waiting.next_run_us, waiting.last_error) == (
        "scheduled", clock() + int(HOUR_S * SECOND), "unknown channel(s) None")


# --- one-off jobs and the table -------------------------------------------------------------


def test_a_one_off_job_runs_once_with_its_payload_when_due(store: Store) -> None:
    clock = Clock()
    record = Record()
    worker = Worker(store, {"echo": JobKind(record)}, clock=clock)
    job = store.enqueue_job("echo", payload={"site": "anares", "images": [1, 2]},
                            now_us=clock(), run_at_us=clock() + 5 * SECOND, name="echo-1")
    assert worker.run_once() is None  # not due yet
    clock.advance(5)
    ran = worker.run_once()
    assert ran is not None and ran.ok and ran.result == {"site": "anares", "images": [1, 2]}
    assert worker.run_once() is None
    assert store.job(job.name).state == "done"
    assert record.names() == Counter({"echo-1": 1})


def test_a_worker_claims_only_the_kinds_it_has_handlers_for(store: Store) -> None:
    store.enqueue_job("video", now_us=0)
    assert Worker(store, {"echo": JobKind(Record())}).run_once() is None
    assert store.jobs()[0].state == "scheduled"


def test_job_inputs_are_bounded(store: Store) -> None:
    with pytest.raises(TooLargeError, match="more than the 65536"):
        store.enqueue_job("echo", payload={"x": "a" * MAX_JOB_PAYLOAD}, now_us=0)
    store.enqueue_job("echo", now_us=0, name="echo-1")
    with pytest.raises(InvalidRequestError, match="exists already"):
        store.enqueue_job("echo", now_us=0, name="echo-1")
    with pytest.raises(InvalidRequestError, match="1 to 128"):
        store.enqueue_job("echo", now_us=0, name="n" * 129)

    def failing(context: JobContext) -> None:
        raise ValueError("\x00" + "e" * 10_000)

    Worker(store, {"echo": JobKind(failing)}).run_once()
    error = store.job("echo-1").last_error
    assert error is not None and len(error) <= 2_000 and "\x00" not in error


def test_jobs_are_listed_periodic_ones_first(store: Store) -> None:
    worker = Worker(store, default_kinds(), clock=Clock())
    assert worker.ensure_jobs() == 5
    assert worker.ensure_jobs() == 0  # kept once
    store.enqueue_job("echo", now_us=0, name="first")
    store.enqueue_job("echo", now_us=0, name="second")
    assert [j.name for j in store.jobs()] == [
        APPLY_RETENTION, DELIVER_NOTIFICATIONS, REFIT_MODELS, SCAN_NO_DATA, WATCH_CAMERAS,
        "second", "first"]
    day = 86_400 * SECOND
    refit = store.job(REFIT_MODELS)
    assert refit.next_run_us == Clock.now_us + day  # a day after its creation
    assert store.job(SCAN_NO_DATA).next_run_us == Clock.now_us  # at once
    Worker(store, default_kinds(refit_every_s=3600), clock=Clock()).ensure_jobs()
    assert store.job(REFIT_MODELS).period_s == 3600  # a shorter period: the next run sooner
    assert store.job(REFIT_MODELS).next_run_us == Clock.now_us + 3600 * SECOND


def test_a_stopped_worker_ends_its_job_and_returns(store: Store) -> None:
    seen: list[bool] = []

    def until_stopped(context: JobContext) -> None:
        context.stop.wait(60)
        seen.append(context.stop.is_set())

    job = store.enqueue_job("wait", now_us=0)
    stop = threading.Event()
    thread = threading.Thread(target=Worker(store, {"wait": JobKind(until_stopped)}).run,
                              args=(stop,))
    thread.start()
    eventually(lambda: store.job(job.name).state == "running", what="the job runs")
    stop.set()
    thread.join(30)
    assert not thread.is_alive()
    assert seen == [True] and store.job(job.name).state == "done"


# --- the built-in kinds -----------------------------------------------------------------------


def test_deliver_notifications_sends_the_outbox(store: Store, hook: Hook) -> None:
    save_site(store, hook.url)
    kept = keep(store, hook.url, events(3))
    worker = Worker(store, default_kinds())
    worker.ensure_jobs()
    ran = [worker.run_once(), worker.run_once()]  # deliveries, and the no-data scan
    delivered = {r.job.name: r.result for r in ran if r is not None}
    assert delivered[DELIVER_NOTIFICATIONS] == {"sent": 3, "failed": 0, "gave_up": 0,
                                                "postponed": 0}
    assert set(hook.keys()) == kept
    assert {e.claimed_by for e in store.outbox() if e.key in kept} == {worker.owner}
    assert SCAN_NO_DATA in delivered


def test_refit_models_fits_a_new_version_of_each_model(history: Scene) -> None:
    store = history.store
    job = store.enqueue_job(REFIT_MODELS, payload={"end_us": END}, now_us=0)
    ran = Worker(store, default_kinds()).run_once()
    assert ran is not None and ran.job.name == job.name
    assert ran.ok and ran.result == {"anares": {"fitted": 1, "not_fitted": 0}}
    (model,) = store.model_versions(history.ids["PL1.radial"])
    assert model.window_end_us == END


# --- the API and the commands ---


def test_the_api_lists_the_jobs_to_engineers(engineer: Api, viewer: Api, store_url: str) -> None:
    store = open_store(store_url)
    try:
        Worker(store, default_kinds()).ensure_jobs()
        store.enqueue_job("echo", payload={"x": 1}, now_us=1_721_865_600_000_000, name="echo-1")
    finally:
        store.close()
    jobs = engineer.get("/api/jobs").json()
    assert [j["name"] for j in jobs] == [APPLY_RETENTION, DELIVER_NOTIFICATIONS, REFIT_MODELS,
                                         SCAN_NO_DATA, WATCH_CAMERAS, "echo-1"]
    echo = jobs[-1]
    assert echo["next_run"].startswith("2024-07-25T00:00:00") and echo["next_run"][-1] == "Z"
    assert {k: v for k, v in echo.items() if k != "next_run"} == {
        "name": "echo-1", "kind": "echo", "state": "scheduled", "period_s": None,
        "payload": {"x": 1}, "lease_owner": None, "lease_until": None, "runs": 0,
        "attempts": 0, "last_start": None, "last_end": None, "last_error": None,
    }
    assert jobs[1]["period_s"] == 5.0
    assert viewer.get("/api/jobs").status_code == 403


# --- the commands ------------------------------------------------------------------------------


def cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_worker_once_runs_what_is_due_and_jobs_lists_them(store_url: str) -> None:
    ran = cli("worker", "--once", "--json", "--db", store_url)["ran"]
    assert {(r["job"], r["ok"]) for r in ran} == {(DELIVER_NOTIFICATIONS, True),
                                                 (SCAN_NO_DATA, True)}
    listed = {j["name"]: j for j in cli("jobs", "--json", "--db", store_url)["jobs"]}
    assert set(listed) == {APPLY_RETENTION, DELIVER_NOTIFICATIONS, SCAN_NO_DATA, REFIT_MODELS}
    assert listed[REFIT_MODELS]["runs"] == 0 and listed[SCAN_NO_DATA]["runs"] == 1
    assert listed[SCAN_NO_DATA]["period_s"] == 300 and listed[SCAN_NO_DATA]["last_error"] is None
    again = cli("worker", "--once", "--json", "--db", store_url)["ran"]
    assert SCAN_NO_DATA not in {r["job"] for r in again}  # not due again before 300 s


def test_shuian_worker_runs_until_sigterm(store: Store, store_url: str) -> None:
    process = subprocess.Popen([str(SHUIAN), "worker", "--db", store_url, "--poll-s", "0.05"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ran: Callable[[], bool] = lambda: any(  # noqa: E731
            j.name == DELIVER_NOTIFICATIONS and j.runs > 0 for j in store.jobs())
        eventually(ran, timeout=60, what="the worker delivered once")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "deliver_notifications" in out
    assert {j.state for j in store.jobs()} == {"scheduled"}  # nothing left held

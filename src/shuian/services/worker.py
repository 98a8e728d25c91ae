"""The background worker: periodic and heavy work outside request handlers and ingest commits.

A :class:`Worker` runs the jobs of the store's jobs table (:mod:`shuian.store.jobs`) whose kinds
it has handlers for: it claims the job due first with a lease, runs its handler while a
heartbeat renews the lease, and keeps how it ended. ``shuian serve`` runs one in a thread
beside the API, ``shuian worker`` runs one on its own, and any number of them may share a
store: two workers never run the same job at once, and a worker killed mid-job leaves its job
to another once its lease is over (``lease_s`` after its last renewal; renewals come every
third of it).

The kinds of job (:func:`default_kinds`), each a periodic job of the same name:

========================= ===================================================== ==========
kind                      what it does                                           period
========================= ===================================================== ==========
``deliver_notifications`` send the outbox's due notifications                    5 s
                          (:func:`shuian.services.outbox.deliver_pending`)
``scan_no_data``          judge the readings not judged yet and look for silent  300 s
                          channels (no-data alarms), every site
                          (:meth:`Analyzer.evaluate <shuian.services.analysis.Analyzer.evaluate>`)
``refit_models``          fit a new version of every modelled channel's model,   1 day
                          every site (:meth:`~shuian.services.analysis.Analyzer.fit`)
``apply_retention``       remove the media the retention policy no longer keeps  1 h
``watch_cameras``         watch every site's cameras for a shift of 10 minutes   5 s
                          (:func:`shuian.services.cameras.watch_cameras`): it
                          holds one of the worker's threads while it runs
========================= ===================================================== ==========

The next kinds (scheduled reports ...) are one handler and one line in :func:`default_kinds`
each. A one-off job of any kind is queued with
:meth:`Store.enqueue_job <shuian.store.jobs.JobTables.enqueue_job>` and its payload.

A handler that fails is kept with its reason. When the fault is the system's (the database
away, an operating-system error: :func:`shuian.faults.blame`), the job is tried again after the
:class:`~shuian.notify.RetryPolicy`'s back-off (a periodic job no later than its next period);
when it is the input's, trying again cannot help: a periodic job waits for its next period, a
one-off job is given up (failed). A one-off job is also given up after the policy's last
attempt; every claim counts, so a job that kills its worker is not tried for ever.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shuian.faults import Fault, blame, reason_of
from shuian.notify import RetryPolicy
from shuian.services.analysis import Analyzer
from shuian.services.media import apply_retention, default_media_dir
from shuian.services.outbox import deliver_pending, runner_name
from shuian.store import Store
from shuian.store.jobs import JobSchedule, StoredJob

logger = logging.getLogger(__name__)

_US_PER_S = 1_000_000

#: The periodic jobs' names (each is also its kind).
DELIVER_NOTIFICATIONS = "deliver_notifications"
SCAN_NO_DATA = "scan_no_data"
REFIT_MODELS = "refit_models"
#: The media store's retention (:func:`shuian.services.media.apply_retention`).
APPLY_RETENTION = "apply_retention"
#: The cameras' watch (:func:`shuian.services.cameras.watch_cameras`).
WATCH_CAMERAS = "watch_cameras"

#: Seconds between two runs of each periodic job, by default.
DELIVER_EVERY_S = 5.0
RETENTION_EVERY_S = 3_600.0
SCAN_EVERY_S = 300.0
#: Seconds from the end of one camera shift to the next (a shift watches for 10 min).
WATCH_EVERY_S = 5.0
REFIT_EVERY_S = 86_400.0

#: Seconds a claim holds without renewal, and between two looks for due jobs, by default.
LEASE_S = 60.0
POLL_S = 1.0

#: Back-off of a job that failed for the system's fault; a one-off job's attempts.
RETRY = RetryPolicy(attempts=5, backoff_s=(10.0, 60.0, 300.0, 900.0))


def _now_us() -> int:
    return time.time_ns() // 1_000


@dataclass(frozen=True)
class JobContext:
    """What a handler gets: the store, the job as claimed, and when to stop.

    ``stop`` is set when the worker is told to stop: a long handler returns soon after (it is
    never interrupted). ``owner`` is the worker's name.
    """

    store: Store
    job: StoredJob
    owner: str
    stop: threading.Event

    @property
    def payload(self) -> dict[str, Any]:
        """The one-off job's parameters ({} for a periodic job)."""
        return self.job.payload or {}


#: A handler: runs one job, returns a summary (JSON-able), raises when the job failed.
JobHandler = Callable[[JobContext], Any]


@dataclass(frozen=True)
class JobKind:
    """A kind of job: its handler, and the period of its periodic job.

    Parameters
    ----------
    handler : callable
        Runs one job of the kind (:data:`JobHandler`).
    period_s : float, optional
        Seconds from the end of a successful run to the next; the worker keeps a periodic job
        named after the kind. None: the kind runs one-off jobs only.
    first_after_s : float, optional
        Seconds from the periodic job's creation to its first run; default ``period_s``.
    """

    handler: JobHandler
    period_s: float | None = None
    first_after_s: float | None = None

    def __post_init__(self) -> None:
        if self.period_s is not None and not self.period_s > 0:
            raise ValueError(f"period_s must be > 0 s, not {self.period_s}")


@dataclass(frozen=True)
class JobRun:
    """What :meth:`Worker.run_once` ran and how it ended.

    ``job`` is the job as claimed; ``error`` and ``fault`` say why it failed (None: it
    succeeded, with ``result`` the handler's summary); ``retry_at_us`` when a failed job is due
    again (None: at its next period, or given up); ``kept`` whether the result was kept (False:
    the worker lost its lease meanwhile, and the job is another's now).
    """

    job: StoredJob
    error: str | None = None
    fault: Fault | None = None
    result: Any = None
    retry_at_us: int | None = None
    kept: bool = True

    @property
    def ok(self) -> bool:
        """Whether the handler succeeded."""
        return self.error is None


@dataclass(eq=False)
class Worker:
    """Runs the due jobs of ``handlers``' kinds from the store (see the module docstring).

    Parameters
    ----------
    store : Store
        Where the jobs table is; handlers get it too.
    handlers : mapping of str to JobKind
        The kinds this worker runs (:func:`default_kinds`); it claims no other kind.
    owner : str, optional
        The worker's name, unique among workers (default: host, process and a random part).
    lease_s : float
        Seconds a claim holds without renewal: how long a killed worker's job waits before
        another worker takes it. Renewed every third of it while the job runs.
    poll_s : float
        Seconds between two looks for due jobs when none was due.
    threads : int
        Jobs run at once by :meth:`run` (each claimed apart: a long refit need not hold up the
        notifications).
    retry : RetryPolicy
        Back-off of a job that failed for the system's fault; a one-off job's attempts.
    clock : callable
        Now in µs since 1970-01-01 UTC.
    """

    store: Store
    handlers: Mapping[str, JobKind]
    owner: str = field(default_factory=runner_name)
    lease_s: float = LEASE_S
    poll_s: float = POLL_S
    threads: int = 1
    retry: RetryPolicy = RETRY
    clock: Callable[[], int] = _now_us

    def __post_init__(self) -> None:
        if not self.lease_s > 0 or not self.poll_s > 0:
            raise ValueError(f"lease_s and poll_s must be > 0 s, not {self.lease_s}, "
                             f"{self.poll_s}")
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1, not {self.threads}")

    @property
    def _lease_us(self) -> int:
        return int(self.lease_s * _US_PER_S)

    def ensure_jobs(self) -> int:
        """Keep a periodic job for each kind with a period; return how many are new."""
        now = self.clock()
        schedules = [
            JobSchedule(name, name, kind.period_s, now + int(
                (kind.period_s if kind.first_after_s is None else kind.first_after_s)
                * _US_PER_S))
            for name, kind in self.handlers.items() if kind.period_s is not None
        ]
        return self.store.ensure_jobs(schedules, now_us=now)

    def run_once(self, stop: threading.Event | None = None) -> JobRun | None:
        """Claim the job due first, run it (renewing the lease), keep how it ended.

        Returns what ran, or None when no job of this worker's kinds was due (or another
        worker claimed it first). ``stop`` goes to the handler (:class:`JobContext`).
        """
        job = self.store.claim_job(self.owner, kinds=self.handlers.keys(),
                                   now_us=self.clock(), lease_us=self._lease_us)
        if job is None:
            return None
        context = JobContext(self.store, job, self.owner, stop or threading.Event())
        finished = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job, finished),
                                name=f"shuian-lease-{job.name}"[:60], daemon=True)
        beat.start()
        try:
            result = self.handlers[job.kind].handler(context)
        except Exception as exc:  # noqa: BLE001 - every failure of a job is kept, never raised
            ran = self._failed(job, exc)
        else:
            ran = JobRun(job, result=result)
        finally:
            finished.set()
            beat.join()
        kept = self.store.finish_job(job, self.owner, now_us=self.clock(), error=ran.error,
                                     retry_at_us=ran.retry_at_us)
        if not kept:
            logger.warning("job %s: the lease ran out while it ran; its result is not kept "
                           "(another worker may have run it again)", job.name)
        elif ran.ok:
            logger.debug("job %s done: %s", job.name, ran.result)
        return dataclasses.replace(ran, kept=kept)

    def _failed(self, job: StoredJob, exc: Exception) -> JobRun:
        """The run of a job whose handler raised ``exc``, and when it is tried again."""
        fault, error, now = blame(exc), reason_of(exc), self.clock()
        retry_at = None
        if fault is Fault.SYSTEM:
            retry_at = self.retry.next_try_us(job.attempts, now_us=now)
            if job.period_s is not None:
                next_period = now + int(job.period_s * _US_PER_S)
                retry_at = None if retry_at is None or retry_at >= next_period else retry_at
        if fault is Fault.INPUT:
            logger.exception("job %s failed (attempt %d): %s", job.name, job.attempts, error,
                             exc_info=exc)
        else:
            logger.warning("job %s failed (attempt %d), %s: %s", job.name, job.attempts,
                           "tried again later" if retry_at or job.periodic else "given up",
                           error)
        return JobRun(job, error, fault, retry_at_us=retry_at)

    def _heartbeat(self, job: StoredJob, finished: threading.Event) -> None:
        """Renew the lease on ``job`` every third of it until ``finished`` is set."""
        while not finished.wait(self.lease_s / 3):
            try:
                held = self.store.renew_job(job, self.owner, now_us=self.clock(),
                                            lease_us=self._lease_us)
            except Exception as exc:  # noqa: BLE001 - the database away: try at the next beat
                logger.warning("job %s: the lease could not be renewed: %s", job.name,
                               reason_of(exc))
                continue
            if not held:
                logger.warning("job %s: lost the lease (it ran out); another worker may run "
                               "it now", job.name)
                return

    def run(self, stop: threading.Event) -> None:
        """Run due jobs until ``stop`` is set, ``threads`` at a time.

        Keeps the periodic jobs first (:meth:`ensure_jobs`). When nothing is due it waits
        ``poll_s`` on ``stop``. A failure outside a job (the database away, a bug) is logged and
        the loop goes on. Returns once ``stop`` is set and the jobs running have ended.
        """
        while not stop.is_set():
            try:
                self.ensure_jobs()
                break
            except Exception as exc:  # noqa: BLE001 - the database away: try again
                logger.warning("worker %s cannot keep its jobs yet: %s", self.owner,
                               reason_of(exc))
                stop.wait(self.poll_s)
        others = [threading.Thread(target=self._loop, args=(stop,), daemon=True,
                                   name=f"shuian-worker-{i}") for i in range(1, self.threads)]
        for thread in others:
            thread.start()
        self._loop(stop)
        for thread in others:
            thread.join()

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                ran = self.run_once(stop)
            except Exception as exc:  # noqa: BLE001 - the database away, a bug: next look
                logger.warning("worker %s: looking for due jobs failed: %s", self.owner,
                               reason_of(exc))
                ran = None
            if ran is None:
                stop.wait(self.poll_s)


# --- the kinds of job -------------------------------------------------------------------------


def deliver_notifications(context: JobContext) -> dict[str, int]:
    """Send the outbox's due notifications: passes until none is left due (or stop is set).

    Returns how many messages were sent, failed (tried again later), given up and postponed.
    """
    counts = {"sent": 0, "failed": 0, "gave_up": 0, "postponed": 0}
    for delivery in deliver_pending(context.store, runner=context.owner, stop=context.stop):
        counts[delivery.outcome] += 1
    return counts


def scan_no_data(context: JobContext) -> dict[str, dict[str, Any]]:
    """Judge every site's readings not judged yet, and look for silent channels (no data).

    Payload (a one-off job): ``site``, one site's code. Returns per site the readings judged,
    the alarm steps and the notifications kept.
    """

    def evaluate(analyzer: Analyzer) -> dict[str, Any]:
        report = analyzer.evaluate()
        found = report.as_json()
        return {k: found[k] for k in ("readings", "alarm_steps", "notifications")}

    return _each_site(context, evaluate)


def refit_models(context: JobContext) -> dict[str, dict[str, int]]:
    """Fit a new model version of every modelled channel of every site.

    Payload (a one-off job): ``site``, one site's code; ``channels``, some channels' codes;
    ``end_us``, the end of the fit windows (µs since 1970 UTC; default now). Returns per site
    how many models were fitted and how many could not be.
    """
    channels, end_us = context.payload.get("channels"), context.payload.get("end_us")

    def fit(analyzer: Analyzer) -> dict[str, int]:
        outcomes = analyzer.fit(codes=channels, end_us=end_us)
        fitted = sum(o.ok for o in outcomes)
        return {"fitted": fitted, "not_fitted": len(outcomes) - fitted}

    return _each_site(context, fit)


def apply_media_retention(context: JobContext) -> dict[str, int]:
    """Remove the media the retention policy no longer keeps (:func:`apply_retention`).

    Returns how many objects went for their age and for the folder's size, and the files and
    bytes freed.
    """
    report = apply_retention(context.store, default_media_dir(context.store.url))
    return {"expired": len(report.expired), "evicted": len(report.evicted),
            "files_removed": report.files_removed, "bytes_freed": report.bytes_freed}


def watch_site_cameras(context: JobContext) -> dict[str, dict[str, int]]:
    """Watch every site's cameras for one shift (:func:`shuian.services.cameras.watch_cameras`).

    OpenCV is imported only where a site has cameras.
    """
    if not any(context.store.site(code).site.cameras for code in context.store.sites()):
        return {}
    from shuian.services.cameras import watch_cameras

    return watch_cameras(context)


def _each_site(context: JobContext, work: Callable[[Analyzer], Any]) -> dict[str, Any]:
    """``work`` on the analyzer of every site (or the payload's ``site``), by site code.

    A site that fails for its own fault (its file's notifications cannot be built, say) does
    not keep the others from their turn: they are done, and then its error raised. A fault of
    the system is raised at once.
    """
    store = context.store
    site = context.payload.get("site")
    codes = [str(site)] if site is not None else store.sites()
    done: dict[str, Any] = {}
    failed: list[Exception] = []
    for code in codes:
        if context.stop.is_set():
            break
        try:
            done[code] = work(Analyzer(store, store.site(code)))
        except Exception as exc:
            if blame(exc) is Fault.SYSTEM:
                raise
            logger.warning("job %s, site %s: %s", context.job.name, code, reason_of(exc))
            failed.append(exc)
    if failed:
        raise failed[0]
    return done


def default_kinds(
    *,
    deliver_every_s: float = DELIVER_EVERY_S,
    scan_every_s: float = SCAN_EVERY_S,
    refit_every_s: float = REFIT_EVERY_S,
    retention_every_s: float = RETENTION_EVERY_S,
    watch_every_s: float = WATCH_EVERY_S,
    cameras: bool = True,
) -> dict[str, JobKind]:
    """The kinds of job ``shuian serve`` and ``shuian worker`` run, with their periods (s).

    Notifications and the no-data scan first run when their job is created (a worker's first
    start on a store), the refit one period later. ``cameras`` False leaves out the cameras' watch
    (``shuian worker --once``: a shift of it lasts ten minutes).
    """
    return {
        DELIVER_NOTIFICATIONS: JobKind(deliver_notifications, deliver_every_s, first_after_s=0),
        SCAN_NO_DATA: JobKind(scan_no_data, scan_every_s, first_after_s=0),
        REFIT_MODELS: JobKind(refit_models, refit_every_s),
        APPLY_RETENTION: JobKind(apply_media_retention, retention_every_s),
        # The next kinds, one line each: "send_report" ...
    } | ({WATCH_CAMERAS: JobKind(watch_site_cameras, watch_every_s, first_after_s=0)}
         if cameras else {})

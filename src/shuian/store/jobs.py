"""Storage of the background worker's jobs: periodic and one-off, claimed with a lease.

A job is one row. A worker **claims** a due job in one conditional ``UPDATE`` (due, and free or
its holder's lease over), which on SQLite (one writer) and PostgreSQL (``FOR UPDATE SKIP
LOCKED`` in the pick, the condition checked again on the locked row) gives the job to one
worker only: two workers never run the same job at once. The holder **renews** its lease while
the job runs; a worker killed mid-job stops renewing, and once its lease is over the job is due
to whoever claims it next. Every claim counts in ``runs``: a renewal or a result counts only for
the claim it belongs to, so a holder whose lease ran out (and whose job another worker took)
changes nothing.

A few statements per job, none per reading; times are µs since 1970 UTC, as elsewhere in the
store. The policy (when to try again, when to give up) is the worker's
(:mod:`shuian.services.worker`); this mixin only keeps rows.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import sqlalchemy.dialects.postgresql
import sqlalchemy.dialects.sqlite

from shuian.errors import InvalidRequestError, NotFoundError, TooLargeError
from shuian.store import schema

#: Largest payload of a one-off job (bytes of its JSON text).
MAX_JOB_PAYLOAD = 65_536
#: Longest error kept per job (characters).
MAX_JOB_ERROR = 2_000
#: Longest name, kind and worker name (the columns' sizes).
MAX_JOB_NAME = 128
MAX_JOB_KIND = 64
MAX_JOB_OWNER = 64


@dataclass(frozen=True)
class JobSchedule:
    """A periodic job a worker keeps in the store.

    ``name`` is unique in the store, ``kind`` says which handler runs it, ``period_s`` the
    seconds from the end of one successful run to the next, ``first_run_us`` when a new row is
    first due (µs since 1970 UTC).
    """

    name: str
    kind: str
    period_s: float
    first_run_us: int


@dataclass(frozen=True)
class StoredJob:
    """A job as kept in the store (times in µs since 1970 UTC).

    ``state`` is ``scheduled`` (due at ``next_run_us``), ``running`` (held by ``lease_owner``
    until ``lease_until_us``), ``done`` or ``failed`` (a one-off job; ``last_error`` says why).
    ``period_s`` is None for a one-off job, whose parameters are ``payload``. ``runs`` counts its
    claims, ``attempts`` the claims since it last succeeded.
    """

    id: int
    name: str
    kind: str
    payload: dict[str, Any] | None
    period_s: float | None
    state: str
    next_run_us: int
    lease_owner: str | None
    lease_until_us: int | None
    runs: int
    attempts: int
    last_start_us: int | None
    last_end_us: int | None
    last_error: str | None
    created_us: int

    @property
    def periodic(self) -> bool:
        """Whether the job runs again and again (else it is a one-off job)."""
        return self.period_s is not None


class JobTables:
    """The jobs part of :class:`~shuian.store.Store` (mixed into it)."""

    engine: sa.Engine
    _translate: Callable[[], AbstractContextManager[None]]  # Store's: driver errors translated

    def _job_insert(self) -> Any:
        if self.engine.dialect.name == "postgresql":
            return sa.dialects.postgresql.insert(schema.jobs)
        return sa.dialects.sqlite.insert(schema.jobs)

    def ensure_jobs(self, schedules: Sequence[JobSchedule], *, now_us: int) -> int:
        """Keep a row for each periodic job; return how many rows are new.

        A job kept already keeps its state and next run; when its period changed, the period
        is updated and its next run comes no later than one new period from ``now_us``. Two
        statements, whatever the number of jobs.
        """
        if not schedules:
            return 0
        for s in schedules:
            _check_name(s.name, s.kind)
            if not s.period_s > 0:
                raise InvalidRequestError(
                    f"job {s.name!r}: the period must be more than 0 s, not {s.period_s}"
                )
        j = schema.jobs
        rows = [
            {"name": s.name, "kind": s.kind, "payload": None, "period_s": float(s.period_s),
             "state": "scheduled", "next_run_us": s.first_run_us, "runs": 0, "attempts": 0,
             "created_us": now_us}
            for s in schedules
        ]
        insert = (
            self._job_insert().values(rows)
            .on_conflict_do_nothing(index_elements=["name"]).returning(j.c.id)
        )
        period = sa.bindparam("new_period", type_=sa.Float)
        soonest = sa.literal(now_us, sa.BigInteger) + sa.cast(period * 1e6, sa.BigInteger)
        changed = (
            sa.update(j)
            .where(j.c.name == sa.bindparam("job_name"), j.c.period_s.is_not(None),
                   j.c.period_s != period)
            .values(period_s=period,
                    next_run_us=sa.case((j.c.next_run_us > soonest, soonest),
                                        else_=j.c.next_run_us))
        )
        with self._translate(), self.engine.begin() as conn:
            new = len(conn.execute(insert).all())
            conn.execute(changed, [{"job_name": s.name, "new_period": float(s.period_s)}
                                   for s in schedules])
        return new

    def enqueue_job(
        self,
        kind: str,
        *,
        payload: dict[str, Any] | None = None,
        now_us: int,
        run_at_us: int | None = None,
        name: str | None = None,
    ) -> StoredJob:
        """Keep a one-off job of ``kind``, due at ``run_at_us`` (default ``now_us``).

        ``payload`` holds its parameters (JSON, at most :data:`MAX_JOB_PAYLOAD` bytes); ``name``
        is unique (default ``KIND:random``). :class:`InvalidRequestError` when the name is
        taken, :class:`TooLargeError` when the payload is too large.
        """
        name = name or f"{kind}:{uuid.uuid4().hex}"
        _check_name(name, kind)
        if payload is not None:
            size = len(json.dumps(payload, ensure_ascii=False).encode())
            if size > MAX_JOB_PAYLOAD:
                raise TooLargeError(
                    f"job {name!r}: the payload takes {size} bytes of JSON, more than the "
                    f"{MAX_JOB_PAYLOAD} a job may hold; pass a reference (a file, an id) instead"
                )
        j = schema.jobs
        row = {"name": name, "kind": kind, "payload": payload, "period_s": None,
               "state": "scheduled", "next_run_us": now_us if run_at_us is None else run_at_us,
               "runs": 0, "attempts": 0, "created_us": now_us}
        statement = (
            self._job_insert().values(row)
            .on_conflict_do_nothing(index_elements=["name"]).returning(*j.c)
        )
        with self._translate(), self.engine.begin() as conn:
            found = conn.execute(statement).first()
        if found is None:
            raise InvalidRequestError(
                f"a job named {name!r} exists already ('shuian jobs' lists them); give another "
                "name, or none"
            )
        return _job(found)

    def claim_job(
        self, owner: str, *, kinds: Collection[str], now_us: int, lease_us: int
    ) -> StoredJob | None:
        """Claim the job due first among ``kinds`` for ``owner``, until ``now_us + lease_us``.

        Due: scheduled or running, its next run reached, and held by no one (or its holder's
        lease is over: the holder died). One conditional ``UPDATE`` (see the module docstring);
        None when nothing is due, or another worker claimed it first. A store with nothing due
        is only read (no write lock on SQLite). The claim counts as an attempt.
        """
        if not kinds:
            return None
        j = schema.jobs
        due = (
            j.c.state.in_(("scheduled", "running"))
            & (j.c.next_run_us <= now_us)
            & (j.c.lease_until_us.is_(None) | (j.c.lease_until_us < now_us))
            & j.c.kind.in_(sorted(kinds))
        )
        pick = sa.select(j.c.id).where(due).order_by(j.c.next_run_us, j.c.id).limit(1)
        with self._translate():
            with self.engine.connect() as conn:
                if conn.scalar(pick) is None:
                    return None
            if self.engine.dialect.name == "postgresql":
                # Picked once (a materialised CTE), skipping the rows another worker is claiming.
                picked = pick.with_for_update(skip_locked=True).cte("picked")
                pick = sa.select(picked.prefix_with("MATERIALIZED").c.id)
            claim = (
                sa.update(j)
                .where(j.c.id.in_(pick), due)
                .values(state="running", lease_owner=owner[:MAX_JOB_OWNER],
                        lease_until_us=now_us + lease_us, runs=j.c.runs + 1,
                        attempts=j.c.attempts + 1, last_start_us=now_us)
                .returning(*j.c)
            )
            with self.engine.begin() as conn:
                rows = conn.execute(claim).all()
        return _job(rows[0]) if len(rows) == 1 else None

    def renew_job(self, job: StoredJob, owner: str, *, now_us: int, lease_us: int) -> bool:
        """Renew ``owner``'s lease on the claimed ``job`` until ``now_us + lease_us``.

        False when this claim no longer holds the job (its lease ran out and another worker
        claimed it, or its result is kept already).
        """
        j = schema.jobs
        with self._translate(), self.engine.begin() as conn:
            renewed = conn.execute(
                sa.update(j)
                .where(j.c.id == job.id, j.c.lease_owner == owner[:MAX_JOB_OWNER],
                       j.c.runs == job.runs, j.c.state == "running")
                .values(lease_until_us=now_us + lease_us)
            )
        return bool(renewed.rowcount)

    def finish_job(
        self,
        job: StoredJob,
        owner: str,
        *,
        now_us: int,
        error: str | None = None,
        retry_at_us: int | None = None,
    ) -> bool:
        """Keep how the claimed ``job`` ended, and let go of it.

        Succeeded (``error`` None): a periodic job is due again one period after ``now_us``,
        its attempts counted from 0; a one-off job is done. Failed: the error is kept (cut to
        :data:`MAX_JOB_ERROR` characters); the job is due again at ``retry_at_us``, or, when
        that is None, a periodic job one period on and a one-off job is given up (failed).
        False when this claim no longer held the job (nothing is changed then).
        """
        j = schema.jobs
        changes: dict[str, Any] = {
            "lease_until_us": None, "last_end_us": now_us,
            "last_error": None if error is None else error.replace("\x00", "\\x00")[
                :MAX_JOB_ERROR],
        }
        if error is not None and retry_at_us is not None:
            changes |= {"state": "scheduled", "next_run_us": retry_at_us}
        elif job.period_s is not None:
            changes |= {"state": "scheduled", "next_run_us": now_us + int(job.period_s * 1e6)}
            if error is None:
                changes["attempts"] = 0
        else:
            changes["state"] = "done" if error is None else "failed"
        with self._translate(), self.engine.begin() as conn:
            finished = conn.execute(
                sa.update(j)
                .where(j.c.id == job.id, j.c.lease_owner == owner[:MAX_JOB_OWNER],
                       j.c.runs == job.runs, j.c.state == "running")
                .values(changes)
            )
        return bool(finished.rowcount)

    def job(self, name: str) -> StoredJob:
        """The job named ``name``; :class:`NotFoundError` when there is none."""
        j = schema.jobs
        with self._translate(), self.engine.connect() as conn:
            row = conn.execute(sa.select(*j.c).where(j.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"no job {name!r}; 'shuian jobs' lists the jobs")
        return _job(row)

    def jobs(self, *, limit: int = 200) -> list[StoredJob]:
        """The jobs: periodic ones by name, then one-off ones newest first; ``limit`` in all."""
        j = schema.jobs
        one_off = sa.case((j.c.period_s.is_(None), 1), else_=0)
        query = (
            sa.select(*j.c)
            .order_by(one_off, sa.case((j.c.period_s.is_(None), -j.c.id), else_=0), j.c.name)
            .limit(limit)
        )
        with self._translate(), self.engine.connect() as conn:
            return [_job(row) for row in conn.execute(query)]


def _job(row: Sequence[Any]) -> StoredJob:
    """A job from its row (SQLite may give a whole period back as an integer)."""
    job = StoredJob(*row)
    if job.period_s is not None and not isinstance(job.period_s, float):
        job = dataclasses.replace(job, period_s=float(job.period_s))
    return job


def _check_name(name: str, kind: str) -> None:
    """Refuse a job name or kind longer than its column, or empty."""
    if not 0 < len(name) <= MAX_JOB_NAME or not 0 < len(kind) <= MAX_JOB_KIND:
        raise InvalidRequestError(
            f"job {name[:MAX_JOB_NAME]!r} of kind {kind[:MAX_JOB_KIND]!r}: a name takes 1 to "
            f"{MAX_JOB_NAME} characters, a kind 1 to {MAX_JOB_KIND}"
        )

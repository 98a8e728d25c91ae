"""The background worker's jobs (:mod:`shuian.services.worker`).

``GET /api/jobs``
    Periodic jobs by name, then one-off jobs newest first (engineers and admins).
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query

from shuian.api.auth import EngineerDep
from shuian.api.deps import StoreDep
from shuian.api.schemas import JobPublic
from shuian.times import iso_utc

router = APIRouter(tags=["jobs"])

_TIMES = ("next_run_us", "lease_until_us", "last_start_us", "last_end_us")


@router.get("/jobs")
def read_jobs(
    engineer: EngineerDep,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> list[JobPublic]:
    """Answer the jobs: when each runs next, which worker holds it, how it last ended.

    A job whose lease is over while it is ``running`` lost its worker; another takes it over.
    """
    jobs = store.jobs(limit=limit)
    stamps = np.array([getattr(j, t) or 0 for j in jobs for t in _TIMES], dtype=np.int64)
    texts = iso_utc(times_us=stamps)
    answer = []
    for i, job in enumerate(jobs):
        times = {
            t.removesuffix("_us"): text if getattr(job, t) is not None else None
            for t, text in zip(_TIMES, texts[len(_TIMES) * i:len(_TIMES) * (i + 1)], strict=True)
        }
        answer.append(JobPublic(
            name=job.name, kind=job.kind, state=job.state, period_s=job.period_s,
            payload=job.payload, next_run=times["next_run"] or "",
            lease_owner=job.lease_owner, lease_until=times["lease_until"],
            runs=job.runs, attempts=job.attempts, last_start=times["last_start"],
            last_end=times["last_end"], last_error=job.last_error,
        ))
    return answer

"""Readings: a channel's series for charts, the newest reading of each channel, and pushing.

``GET /api/channels/{code}/readings``
    A channel's readings in ``[start, end)``, downsampled to at most ``max_points``.
``GET /api/latest``
    The newest reading of every channel that has one.
``POST /api/readings``
    A batch of readings, validated and stored like a file's rows (operators and above, or an
    API key with scope ``ingest``). The body is parsed after the credentials are checked, in a
    worker thread (:func:`shuian.api.limits.json_body`).
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query

from shuian.api.auth import IngestDep
from shuian.api.deps import IngestorDep, LangDep, SiteDep, StoreDep
from shuian.api.limits import json_body, json_body_openapi
from shuian.api.schemas import (
    IngestReportPublic,
    LatestPublic,
    ReadingsIn,
    ReadingsPublic,
)
from shuian.errors import InvalidRequestError, NotFoundError
from shuian.i18n import Message
from shuian.series.downsample import MIN_POINTS, downsample
from shuian.times import iso_utc, parse_time

router = APIRouter(tags=["readings"])

#: Points a chart gets unless it asks for another number.
DEFAULT_POINTS = 2000
#: Most points one answer may hold.
MAX_POINTS = 100_000


@router.get("/channels/{code}/readings")
def read_readings(
    code: str,
    store: StoreDep,
    stored: SiteDep,
    start: Annotated[
        str | None,
        Query(description="ISO 8601, included; without an offset, the site's time zone"),
    ] = None,
    end: Annotated[
        str | None,
        Query(description="ISO 8601, excluded; without an offset, the site's time zone"),
    ] = None,
    max_points: Annotated[
        int, Query(ge=MIN_POINTS, le=MAX_POINTS, description="most points to answer")
    ] = DEFAULT_POINTS,
) -> ReadingsPublic:
    """Answer a channel's readings in ``[start, end)``, at most ``max_points`` of them.

    When the range holds more readings than ``max_points``, they are downsampled so that the
    chart keeps its shape (MinMaxLTTB) and never loses the highest or lowest reading;
    ``count`` says how many are stored, ``returned`` how many are in the answer.
    400 when ``start`` or ``end`` is not an ISO 8601 time, 404 when the channel is unknown.
    """
    timezone = stored.site.reservoir.timezone
    start_us = parse_time(name="start", text=start, timezone=timezone)
    end_us = parse_time(name="end", text=end, timezone=timezone)
    if start_us is not None and end_us is not None and end_us <= start_us:
        raise InvalidRequestError(Message.of("error.end_before_start", end=end, start=start))
    try:
        channel = store.channel(stored.id, code)
    except NotFoundError as exc:
        raise NotFoundError(Message.of("error.no_channel_in_site", code=code,
                                       site=stored.site.reservoir.code)) from exc
    times, values = store.readings(channel.id, start_us, end_us)
    count = len(times)
    if count > max_points:
        keep = downsample(times, values, max_points)
        times, values = times[keep], values[keep]
    return ReadingsPublic(
        channel=channel.code,
        unit=channel.unit,
        timezone=timezone,
        count=count,
        returned=len(times),
        downsampled=len(times) < count,
        times=iso_utc(times_us=times),
        values=values.tolist(),
    )


@router.get("/latest")
def read_latest(store: StoreDep, stored: SiteDep) -> list[LatestPublic]:
    """Answer the newest reading of every channel that has readings, by channel code.

    ``flagged`` says whether that reading carries an active flag (a data check or an
    engineer's suspect mark), so that a page knows which values to show as suspect.
    """
    rows = store.latest(stored.id)
    flagged = store.flagged_latest(stored.id)
    times = iso_utc(times_us=np.array([row[1] for row in rows], dtype=np.int64))
    return [
        LatestPublic(code=code, time=time, value=value, flagged=code in flagged)
        for (code, _, value), time in zip(rows, times, strict=True)
    ]


#: The batch, parsed once the credentials are known to allow it.
ReadingsBody = Annotated[ReadingsIn, json_body(ReadingsIn, max_items="max_records",
                                                   counted="readings")]


@router.post("/readings", openapi_extra=json_body_openapi(ReadingsIn))
def create_readings(
    principal: IngestDep, body: ReadingsBody, ingestor: IngestorDep, lang: LangDep
) -> IngestReportPublic:
    """Validate and store a batch of readings (at most 100,000: ``SHUIAN_MAX_RECORDS``).

    Each reading is checked like a row of a data file: known channel, ISO 8601 time (the
    site's time zone when it has no offset), a number within the channel's limits, a raw
    reading its calibration can convert. Accepted readings are committed before the answer;
    a reading already stored (same channel and time) counts as a duplicate and changes
    nothing. The answer is 200 even when some readings were rejected: ``rejections`` lists
    every one with its index in the batch (``line``) and the reason, and the store keeps them
    (source ``api``, see ``GET /api/rejected``).

    Needs an operator (or above) or an API key with scope ``ingest`` (401 without
    credentials, 403 when not enough); the batch is in the audit log. 413 for more readings
    than the limit, or a body larger than ``SHUIAN_MAX_BODY_MB`` (16 MiB).
    """
    records = [reading.model_dump(exclude_unset=True) for reading in body.readings]
    report = ingestor.ingest_records(records, source="api")
    ingestor.store.audit(
        actor=principal.actor, action="readings.post", target=f"{len(records)} readings",
        detail={"accepted": report.accepted, "duplicates": report.duplicates,
                "rejected": report.rejected},
    )
    return IngestReportPublic.model_validate(report.as_json(lang))

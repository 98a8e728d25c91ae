"""Request and response bodies of the API (one naming scheme: ``*In`` read, ``*Public`` answered).

``GET /api/site`` answers the site model itself (:class:`shuian.site.Site`): the site file's
own schema, so it is not repeated here.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "MAX_BATCH",
    "ChannelPublic",
    "HealthPublic",
    "IngestReportPublic",
    "LatestPublic",
    "ReadingIn",
    "ReadingsIn",
    "ReadingsPublic",
    "RejectedPublic",
    "RejectedRowPublic",
    "RejectionPublic",
]

#: Most readings one ``POST /api/readings`` may carry.
MAX_BATCH = 100_000


class HealthPublic(BaseModel):
    """Whether the service is up, its version, its database and its site."""

    status: Literal["ok"] = "ok"
    version: str
    database: Literal["sqlite", "postgresql"]
    site: str | None = Field(description="code of the site, or null when the store holds none")


class ChannelPublic(BaseModel):
    """A channel: what it measures, in which unit, within which physical limits."""

    code: str
    instrument: str
    type: str = Field(description="instrument type, e.g. piezometer")
    quantity: str
    unit: str
    limit_min: float | None
    limit_max: float | None


class ReadingsPublic(BaseModel):
    """A channel's readings in a time range, downsampled for a chart when there are many."""

    channel: str
    unit: str
    timezone: str = Field(description="the site's time zone, for display")
    count: int = Field(description="readings stored in the range")
    returned: int = Field(description="readings in this answer")
    downsampled: bool = Field(description="true when returned < count")
    times: list[str] = Field(description="ISO 8601 UTC times ending in Z, increasing")
    values: list[float] = Field(description="engineering values in the channel's unit")


class LatestPublic(BaseModel):
    """The newest reading of a channel."""

    code: str
    time: str = Field(description="ISO 8601 UTC time ending in Z")
    value: float


class ReadingIn(BaseModel):
    """One reading pushed to the API.

    ``value`` is an engineering value; ``raw`` a raw reading converted with the channel's
    calibration (with ``temperature`` where the calibration needs it). Numbers may come as
    JSON numbers or strings: a value that is not a number is rejected by the ingest
    validation, with its reason, rather than refusing the whole batch.
    """

    channel: str
    time: str = Field(description="ISO 8601; without an offset, the site's time zone")
    value: float | str | None = None
    raw: float | str | None = None
    temperature: float | str | None = None


class ReadingsIn(BaseModel):
    """A batch of readings."""

    readings: list[ReadingIn] = Field(max_length=MAX_BATCH)


class RejectionPublic(BaseModel):
    """A reading of a batch that was not accepted, and why."""

    source: str
    line: int | None = Field(description="index of the reading in the batch")
    channel: str | None
    reason: str
    raw: str = Field(description="the reading as received (JSON)")


class IngestReportPublic(BaseModel):
    """What a batch did: new readings, duplicates (already stored), rejections."""

    accepted: int
    duplicates: int
    rejected: int
    rejections: list[RejectionPublic]


class RejectedRowPublic(BaseModel):
    """A rejected row kept in the store."""

    id: int
    received_at: dt.datetime
    source: str
    line: int | None
    channel: str | None
    raw: str
    reason: str


class RejectedPublic(BaseModel):
    """A page of the rejected rows, newest first, and how many there are in all."""

    total: int
    items: list[RejectedRowPublic]

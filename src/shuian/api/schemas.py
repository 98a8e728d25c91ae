"""Request and response bodies of the API (one naming scheme: ``*In`` read, ``*Public`` answered).

``GET /api/site`` answers the site model itself (:class:`shuian.site.Site`): the site file's
own schema, so it is not repeated here.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from fastapi import Path as PathParam
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, RootModel

from shuian.faults import printable
from shuian.services.accounts import Role, Scope
from shuian.site.model import CharacteristicLevels

__all__ = [
    "CONTROL",
    "Name",
    "RowId",
    "Text",
    "ApiKeyCreatedPublic",
    "ApiKeyIn",
    "ApiKeyPublic",
    "AuditPublic",
    "CommentIn",
    "LoginIn",
    "MePublic",
    "SessionPublic",
    "UserCreatedPublic",
    "UserIn",
    "UserPublic",
    "UserUpdateIn",
    "AlarmDetailPublic",
    "AlarmEventPublic",
    "AlarmPublic",
    "ComponentsPublic",
    "FitIn",
    "FlagIn",
    "FlagPublic",
    "ModelPublic",
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
    "IsoTime",
    "AlarmStepPublic",
    "AnalysisPublic",
    "BalancePublic",
    "BalanceRowPublic",
    "CapWindowPublic",
    "ExplanationPublic",
    "FitOutcomePublic",
    "FitPublic",
    "FlagClearedPublic",
    "FlagEventPublic",
    "HydrologyStatePublic",
    "PeerStatusPublic",
    "RoutePublic",
    "RouteSeriesPublic",
    "SiteSummaryPublic",
    "SourceStatusPublic",
    "TelemetryPublic",
    "WorstAlarmPublic",
]

#: Control characters (C0, DEL, C1): never in a code, a name, a time or an action.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: The same but tab and line breaks, which a comment may hold.
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _plain(pattern: re.Pattern[str]) -> AfterValidator:
    def check(text: str) -> str:
        found = pattern.search(text)
        if found is not None:
            raise ValueError(f"holds a control character ({printable(found.group())})")
        return text

    return AfterValidator(check)


#: A name a person or device gives (a user name at login): no control character.
Name = Annotated[str, _plain(CONTROL)]
#: Text a person writes (a comment): no control character but tab and line breaks.
Text = Annotated[str, _plain(_CONTROL_IN_TEXT)]

#: A row number in a path (an alarm, a flag, an API key). One outside the id columns' range
#: (1 to 2^63-1) is no row's: a 404 (:func:`shuian.api.deps.plain_parameters`), never sent to
#: the database.
RowId = Annotated[int, PathParam(description="the row's number (1 to 2^63-1)")]


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
    flagged: bool = Field(
        default=False, description="the reading carries an active flag (data check or suspect)"
    )


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
    """A batch of readings (at most ``SHUIAN_MAX_RECORDS``, default 100,000: else 413)."""

    readings: list[ReadingIn]


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


class CommentIn(BaseModel):
    """Why something is done (kept in the history); who does it is the logged-in user."""

    comment: Text = Field(default="", max_length=2000)


class FlagIn(CommentIn):
    """A reading an engineer marks as suspect."""

    time: str = Field(description="the reading's time, ISO 8601 (no offset: site time zone)")


class FlagPublic(BaseModel):
    """A flag on a reading: a data check's finding or an engineer's mark."""

    id: int
    time: str = Field(description="the reading's time, ISO 8601 UTC")
    kind: str = Field(description="limits, spike, rate, stuck, gap or suspect")
    detail: str
    source: str = Field(description="check or manual")
    active: bool
    set_by: str


class ModelPublic(BaseModel):
    """A fitted version of a channel's statistical model."""

    version: int
    kind: str = Field(description="hst, htt or seasonal")
    r2: float
    sigma: float = Field(description="residual standard deviation, channel unit")
    n: int
    window_start: str
    window_end: str
    fitted_at: dt.datetime
    terms: list[str]
    coefficients: dict[str, float]


class ComponentsPublic(BaseModel):
    """A channel's readings with the model's prediction split into effects, for a chart.

    ``predicted = constant + hydrostatic + seasonal + time`` (``thermal`` instead of
    ``seasonal`` for an HTT model); ``residual = value - predicted``; the envelope is
    ``predicted ± k·sigma``.
    """

    channel: str
    unit: str
    model_version: int
    kind: str
    sigma: float
    warning_sigma: float
    alarm_sigma: float
    count: int
    returned: int
    times: list[str]
    values: list[float | None]
    parts: dict[str, list[float | None]]
    residual: list[float | None]


class AlarmPublic(BaseModel):
    """An alarm: on which channel, by which rule, how bad, where it stands, and why."""

    id: int
    channel: str | None
    rule: str = Field(description="threshold, rate, envelope or no_data")
    level: str = Field(description="attention, warning or alarm (now)")
    peak_level: str
    state: str = Field(description="raised, acknowledged or cleared")
    raised: str | None
    last: str | None
    cleared: str | None
    value: float | None
    message: str
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None
    acknowledge_comment: str | None


class AlarmEventPublic(BaseModel):
    """One step of an alarm's lifecycle."""

    kind: str = Field(description="raised, escalated, deescalated, acknowledged or cleared")
    level: str
    time: str
    value: float | None
    message: str
    actor: str | None


class AlarmDetailPublic(AlarmPublic):
    """An alarm with its whole history."""

    history: list[AlarmEventPublic]


class FitIn(BaseModel):
    """Which channels to refit, and the end of the fit window."""

    channels: list[str] | None = None
    end: str | None = Field(default=None, description="ISO 8601; default now")


# -- accounts ------------------------------------------------------------------------------

class LoginIn(BaseModel):
    """A user name and password."""

    username: Name = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionPublic(BaseModel):
    """A session just opened; the token is also set as the ``shuian_session`` cookie."""

    token: str = Field(description="send as 'Authorization: Bearer TOKEN'")
    username: str
    role: Role
    expires: dt.datetime


class MePublic(BaseModel):
    """Who the request's credentials are: a user with a role, or an API key with scopes."""

    name: str
    kind: Literal["user", "key"]
    role: Role | None
    scopes: list[str]


class UserIn(BaseModel):
    """A new user; without a password one is generated and answered once."""

    username: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    role: Role
    password: str | None = Field(default=None, min_length=10, max_length=1024)


class UserUpdateIn(BaseModel):
    """Changes to a user (a new password ends the user's sessions, so does disabling)."""

    role: Role | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=10, max_length=1024)


class UserPublic(BaseModel):
    """A user (never the password or its hash)."""

    username: str
    role: Role
    disabled: bool
    created_at: dt.datetime


class UserCreatedPublic(UserPublic):
    """A user just created, with its password when it was generated (shown this once)."""

    password: str | None = Field(description="the generated password; null when one was given")


class ApiKeyIn(BaseModel):
    """A new API key for a device or script."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    scopes: list[Scope] = Field(min_length=1, description="ingest: post readings; read: read")


class ApiKeyPublic(BaseModel):
    """An API key as listed: its first characters, never the key."""

    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_by: str
    created_at: dt.datetime
    revoked: bool


class ApiKeyCreatedPublic(ApiKeyPublic):
    """An API key just created, with the key itself: shown this once, kept only hashed."""

    key: str = Field(description="send as 'X-API-Key: KEY'")


class AuditPublic(BaseModel):
    """One entry of the audit log: who changed what, when."""

    id: int
    at: dt.datetime
    actor: str = Field(description="a user name, key:NAME for an API key, cli:USER")
    action: str = Field(description="e.g. alarm.acknowledge, flag.set, readings.post")
    target: str = Field(description="e.g. alarm 12")
    detail: dict[str, Any]


# -- what the analysis, the hydrology, the sites and telemetry answer --------------------------

def _isoformat(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


#: A time as the database gives it, written ISO 8601 as it is (with its offset when it has one).
IsoTime = Annotated[str, BeforeValidator(_isoformat)]


class FlagEventPublic(BaseModel):
    """One step of a flag's history: who set or cleared it, when and why."""

    action: str = Field(description="set or cleared")
    actor: str
    comment: str | None
    at: IsoTime


class FlagClearedPublic(BaseModel):
    """A flag just cleared, with its whole history."""

    id: int
    active: bool = Field(description="false: the flag is cleared")
    history: list[FlagEventPublic]


class FitOutcomePublic(BaseModel):
    """The outcome of fitting one channel's model: its quality, or why it failed."""

    channel: str
    kind: str = Field(description="hst, htt or seasonal")
    ok: bool
    r2: float | None = None
    sigma: float | None = Field(default=None, description="residual standard deviation")
    n: int | None = Field(default=None, description="readings fitted")
    error: str | None = Field(default=None, description="why the fit failed")
    coefficients: dict[str, float] = Field(default_factory=dict)


class FitPublic(BaseModel):
    """The models fitted (a new version each) or failed."""

    models: list[FitOutcomePublic]


class AlarmStepPublic(BaseModel):
    """One step of an alarm's lifecycle that an analysis found."""

    channel: str
    rule: str = Field(description="threshold, rate, envelope or no_data")
    kind: str = Field(description="raised, escalated, deescalated or cleared")
    level: str
    time_us: int = Field(description="µs since 1970 UTC")
    value: float | None
    message: str


class AnalysisPublic(BaseModel):
    """What an analysis judged and found."""

    readings: int = Field(description="readings judged")
    flags: dict[str, int] = Field(description="flags set, by kind")
    alarm_steps: dict[str, int] = Field(description="alarm steps, by kind")
    steps: list[AlarmStepPublic]
    notifications: int = Field(description="messages queued in the outbox")


class ExplanationPublic(BaseModel):
    """A channel's change between two readings, split into its model's effects.

    ``change = Σ effects`` (hydrostatic, seasonal or thermal, time, other), in the channel's
    unit.
    """

    channel: str
    unit: str
    from_us: int = Field(description="time of the first reading, µs since 1970 UTC")
    to_us: int = Field(description="time of the second reading, µs since 1970 UTC")
    from_value: float
    to_value: float
    change: float
    effects: dict[str, float]
    from_: str = Field(alias="from", description="time of the first reading, ISO 8601 UTC")
    to: str = Field(description="time of the second reading, ISO 8601 UTC")
    sentence: str = Field(description="the change in words")


class HydrologyStatePublic(BaseModel):
    """The reservoir now: its level (m), storage (m³), inflow and outflow (m³/s)."""

    time: str | None = Field(description="time of the newest level reading, ISO 8601 UTC")
    level: float | None
    storage: float | None
    percent_of_design: float | None = Field(
        default=None, description="storage in percent of the design storage (given with a level)"
    )
    inflow: float | None
    outflow: float | None
    levels: CharacteristicLevels


class BalanceRowPublic(BaseModel):
    """The volumes (m³) of one period, by series: ``inflow``, ``outflow``, ``release_*`` ..."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, float | None] = Field(init=False)

    period: str = Field(description="2024, 2024-05 or 2024-05-01")


class BalancePublic(BaseModel):
    """Volumes of inflow (from the water balance) and of release per purpose, per period."""

    unit: str = Field(description="m3")
    timezone: str = Field(description="the site's: periods are its years, months and days")
    year: list[BalanceRowPublic] | None = None
    month: list[BalanceRowPublic] | None = None
    day: list[BalanceRowPublic] | None = None


class RouteSeriesPublic(BaseModel):
    """The routed flood, step by step."""

    time: list[str] | list[float] = Field(
        description="ISO 8601 UTC when the flood has a start time, else hours from its start"
    )
    inflow: list[float] = Field(description="m³/s")
    outflow: list[float] = Field(description="m³/s")
    level: list[float] = Field(description="m")
    storage: list[float] = Field(description="m³")


class RoutePublic(BaseModel):
    """A routed flood: its peaks, the highest level and the characteristic levels it passes."""

    peak_inflow: float = Field(description="m³/s")
    peak_outflow: float = Field(description="m³/s")
    attenuation: float = Field(description="1 - peak_outflow / peak_inflow")
    time_of_peak_inflow: str | float = Field(description="ISO 8601 UTC, or s from the start")
    time_of_peak_outflow: str | float
    max_level: float = Field(description="m")
    max_storage: float = Field(description="m³")
    time_of_max_level: str | float
    mass_balance_error: float = Field(description="relative")
    start_level: float = Field(description="m")
    levels_exceeded: dict[str, float] = Field(description="characteristic levels passed, m")
    series: RouteSeriesPublic


class WorstAlarmPublic(BaseModel):
    """The worst open alarm of a site."""

    id: int
    level: str
    rule: str
    message: str


class SiteSummaryPublic(BaseModel):
    """A reservoir of the store: its names, its state now and its open alarms."""

    code: str
    name: str
    name_zh: str
    synthetic: bool = Field(description="the data of this site are synthetic")
    level: float | None = Field(description="m")
    storage: float | None = Field(description="m³")
    percent_of_design: float | None
    time: str | None = Field(description="time of the newest level reading, ISO 8601 UTC")
    open_alarms: int
    worst_alarm: WorstAlarmPublic | None


class PeerStatusPublic(BaseModel):
    """One SL 651 station as the centre sees it."""

    name: str
    station: str
    connected: bool
    address: str | None
    messages: int
    rejected: int
    pictures: int
    last_message_at: str | None
    last_error: str | None
    last_error_at: str | None
    clock_offset_s: float | None = Field(description="s the station's clock was ahead")


class CapWindowPublic(BaseModel):
    """The SL 651 centre's rejected-text caps over their window so far."""

    started_at: str | None
    kept_chars: int
    not_kept: int
    not_kept_bytes: int
    addresses: list[dict[str, Any]] = Field(description="the addresses that lost most")


class SourceStatusPublic(BaseModel):
    """Where a telemetry source stands: connected, its counts, its last error.

    Every source has the counts ``messages`` to ``failures``; the others are a kind's
    (``repeated_failures`` Modbus's, ``connections`` to ``not_kept_bytes``, ``peers`` and
    ``window`` SL 651's); a new kind's counts come after them.
    """

    model_config = ConfigDict(extra="allow")

    kind: str = Field(description="mqtt, modbus or sl651")
    endpoint: str = Field(description="host:port")
    connected: bool
    messages: int
    accepted: int
    duplicates: int
    rejected: int
    failures: int
    repeated_failures: int | None = None
    connections: int | None = None
    pictures: int | None = None
    refused: int | None = None
    refused_by_address: int | None = None
    timed_out: int | None = None
    messages_dropped: int | None = None
    not_kept: int | None = None
    not_kept_bytes: int | None = None
    last_message_at: str | None = Field(description="ISO 8601 UTC")
    last_error: str | None
    last_error_at: str | None
    peers: list[PeerStatusPublic] | None = None
    window: CapWindowPublic | None = None


class TelemetryPublic(RootModel[dict[str, SourceStatusPublic]]):
    """The telemetry sources the server runs for a site, by name; none: an empty object.

    Names are ``mqtt``, ``sl651`` and ``modbus:<logger>``.
    """


class MediaPublic(BaseModel):
    """A binary object's metadata (an image, a picture, a report); its bytes are at ``url``."""

    id: int
    source: str = Field(description="where it came from, e.g. sl651:0012345678")
    taken_at: str = Field(description="when it was taken, ISO 8601 UTC")
    stored_at: str = Field(description="when it was kept (its age counts from here), ISO 8601 UTC")
    size: int = Field(description="bytes")
    content_type: str = Field(description="read from the bytes, e.g. image/jpeg")
    retention: str = Field(description="retention class: routine, event or report")
    name: str | None = Field(description="a file name for downloads, or null")
    sha256: str = Field(description="SHA-256 of the bytes, hex: the same bytes, the same hash")
    url: str = Field(description="where to GET the bytes")


class MediaListPublic(BaseModel):
    """A page of a site's media, newest taken first, and how many there are in all."""

    total: int = Field(description="objects in the range, on every page")
    items: list[MediaPublic]


class JobPublic(BaseModel):
    """A job of the background worker: when it runs next, who holds it, how it last ended."""

    name: str
    kind: str = Field(description="the handler that runs it, e.g. scan_no_data")
    state: str = Field(description="scheduled, running, done or failed (one-off jobs)")
    period_s: float | None = Field(description="seconds between runs; null: a one-off job")
    payload: dict[str, Any] | None = Field(description="a one-off job's parameters")
    next_run: str = Field(description="ISO 8601 UTC time ending in Z")
    lease_owner: str | None = Field(description="the worker holding it (or that last held it)")
    lease_until: str | None = Field(description="held until then; null: not held")
    runs: int = Field(description="times claimed by a worker")
    attempts: int = Field(description="claims since it last succeeded")
    last_start: str | None
    last_end: str | None
    last_error: str | None


# -- cameras (api/routes/cameras.py) ------------------------------------------------------------


class CameraStatusPublic(BaseModel):
    """Where a camera's feed stands, as the worker watching it last wrote it."""

    watched: bool = Field(description="a worker wrote this status within the last minute")
    connected: bool = False
    fps: float = Field(default=0.0, description="frames taken per second, over the last minute")
    frames: int = Field(default=0, description="frames taken since the watch began")
    dropped: int = Field(default=0, description="frames dropped because analysis fell behind")
    reconnects: int = 0
    analysed: int = Field(default=0, description="frames analysed since the watch began")
    analysis_ms: float | None = Field(default=None, description="mean analysis time per frame")
    interval_s: float | None = Field(default=None, description="the sampling interval now")
    last_frame_at: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    updated_at: str | None = Field(default=None, description="when it was written, ISO UTC")


class FramePublic(BaseModel):
    """One frame of a camera kept in the media store; its bytes are at ``url``."""

    media_id: int
    url: str
    taken_at: str = Field(description="ISO 8601 UTC")
    age_s: float | None = Field(default=None, description="seconds before the time asked")
    stale: bool | None = Field(default=None,
                               description="older than three sampling intervals before then")


class CameraAlarmPublic(BaseModel):
    """An open alarm of a camera."""

    id: int
    rule: str
    level: str
    state: str
    message: str


class CameraPublic(BaseModel):
    """A camera of the site, its newest frame, its feed's status and its open alarms."""

    code: str
    name: str
    name_zh: str | None
    looks_at: str
    section: str | None
    chainage: float | None
    elevation: float | None
    interval_s: float
    source: str = Field(description="the kind of source: stream, snapshot, folder, sl651 ...")
    channels: dict[str, str | None] = Field(description="video, level and confidence channels")
    status: CameraStatusPublic
    latest: FramePublic | None
    alarms: list[CameraAlarmPublic]


class CamerasPublic(BaseModel):
    """The cameras of a site."""

    cameras: list[CameraPublic]


class ReadingAtPublic(BaseModel):
    """A channel's newest reading at or before a time."""

    channel: str
    value: float
    unit: str
    time: str = Field(description="ISO 8601 UTC")


class CameraFramePublic(BaseModel):
    """A camera's frame at a time, and the readings of that minute."""

    camera: str
    at: str = Field(description="the time asked, ISO 8601 UTC")
    frame: FramePublic | None
    readings: dict[str, ReadingAtPublic | None] = Field(
        description="level, inflow, outflow, rain and the camera's own level at that time")


class FramesPublic(BaseModel):
    """A camera's frames taken in a span, oldest first."""

    frames: list[FramePublic]


class AlarmMediaPublic(FramePublic):
    """A frame kept with an alarm, with its role."""

    role: str = Field(description="annotated (the zone drawn), before, at or after")


class AlarmMediaListPublic(BaseModel):
    """The frames kept with an alarm."""

    media: list[AlarmMediaPublic]

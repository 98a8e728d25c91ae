"""The site model: a reservoir, its dam and its monitoring network, as one validated object.

The site file (YAML) maps one to one onto these classes; :mod:`shuian.site.loader` reads it and
turns every validation problem into a message naming the file, line and key path.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shuian.site.analysis import (
    Band,
    Checks,
    ModelSpec,
    MonthDays,
    Season,
    SiteAnalysis,
    Thresholds,
    default_model,
)
from shuian.site.cameras import Camera, camera_instrument
from shuian.site.conversions import Conversion, Identity
from shuian.site.hydrology import HydrologySettings
from shuian.site.notifications import NotificationSettings
from shuian.site.telemetry import TelemetrySettings

InstrumentType = Literal[
    "thermometer",
    "joint_meter",
    "piezometer",
    "strain_gauge",
    "seepage_weir",
    "plumb_line",
    "levelling",
    "water_level",
    "rainfall",
    "air_temperature",
    "discharge",
    "camera",
]
INSTRUMENT_TYPES: tuple[str, ...] = InstrumentType.__args__  # type: ignore[attr-defined]

DamType = Literal["arch", "rcc_arch", "gravity", "rcc_gravity", "buttress", "earth", "rockfill"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CharacteristicLevels(_Strict):
    """Characteristic water levels of the reservoir (m above the site datum).

    ``flood_control`` is the flood-limit level (汛限水位): the highest level allowed in the flood
    season, ``flood_season`` (all year when not given); outside it the normal pool level is the
    limit. These levels are the reservoir level channel's alarm thresholds by default
    (:func:`reservoir_level_thresholds`).
    """

    dead: float
    normal: float
    flood_control: float
    design_flood: float
    check_flood: float
    crest: float
    flood_season: MonthDays | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        order = ["dead", "normal", "design_flood", "check_flood", "crest"]
        values = [getattr(self, name) for name in order]
        for (low_name, low), (high_name, high) in zip(
            zip(order, values, strict=True), zip(order[1:], values[1:], strict=True), strict=False
        ):
            if low > high:
                raise ValueError(f"{low_name} ({low} m) must not be above {high_name} ({high} m)")
        if not self.dead <= self.flood_control <= self.check_flood:
            raise ValueError(
                f"flood_control ({self.flood_control} m) must lie between dead ({self.dead} m) "
                f"and check_flood ({self.check_flood} m)"
            )
        return self


class StorageRow(_Strict):
    """One row of the stage-storage-area table."""

    level: float = Field(description="m")
    storage: float = Field(ge=0, description="m³")
    area: float = Field(ge=0, description="m²")


class Reservoir(_Strict):
    """The reservoir: names, time zone, characteristic levels, stage-storage-area table."""

    code: str = Field(pattern=r"^[a-z0-9_-]+$", max_length=64)
    name: str
    name_zh: str
    timezone: str
    synthetic: bool = Field(default=False, description="the data of this site are synthetic")
    design_storage: float | None = Field(default=None, description="m³")
    check_flood_peak: float | None = Field(
        default=None, gt=0,
        description="m³/s, peak inflow of the check flood: the largest inflow the reservoir is "
        "built for (it bounds how fast the level can rise)",
    )
    levels: CharacteristicLevels
    storage_curve: tuple[StorageRow, ...] = Field(min_length=2)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'Asia/Shanghai'"
            ) from exc
        return value

    @field_validator("storage_curve")
    @classmethod
    def _increasing(cls, rows: tuple[StorageRow, ...]) -> tuple[StorageRow, ...]:
        for before, after in zip(rows, rows[1:], strict=False):
            if after.level <= before.level:
                raise ValueError(
                    f"levels must increase: {after.level} m follows {before.level} m"
                )
            if after.storage < before.storage:
                raise ValueError(
                    f"storage must not decrease with level: {after.storage} m³ at {after.level} m "
                    f"is below {before.storage} m³ at {before.level} m"
                )
        return rows


class Section(_Strict):
    """A block or section of the dam, by chainage along the crest axis (m)."""

    code: str = Field(max_length=64)
    name: str | None = None
    chainage_start: float | None = None
    chainage_end: float | None = None


class Dam(_Strict):
    """The dam: type, main dimensions (m) and its blocks or sections."""

    name: str | None = None
    type: DamType
    height: float = Field(gt=0)
    crest_length: float = Field(gt=0)
    crest_elevation: float
    crest_width: float | None = None
    base_width: float | None = None
    sections: tuple[Section, ...] = ()

    @field_validator("sections")
    @classmethod
    def _unique_sections(cls, sections: tuple[Section, ...]) -> tuple[Section, ...]:
        _refuse_duplicates("section", [s.code for s in sections])
        return sections


class Limits(_Strict):
    """Physical limits of a channel's engineering value; readings outside are rejected."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class Channel(_Strict):
    """One measured quantity of an instrument, with its unit, calibration and limits."""

    code: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$", max_length=64)
    quantity: str
    unit: str
    conversion: Conversion = Identity()
    limits: Limits = Limits()
    #: Expected interval between readings (s): gap checks and no-data alarms use it.
    interval: float | None = Field(default=None, gt=0)
    #: Statistical model; None: the instrument type's default; ``false`` in YAML: no model.
    model: ModelSpec | Literal[False] | None = None
    checks: Checks = Checks()
    #: Alarm thresholds; None: the defaults (the reservoir level channel's come from the
    #: characteristic levels); ``false`` in YAML: none.
    thresholds: Thresholds | Literal[False] | None = None

    @model_validator(mode="after")
    def _unit_of_the_conversion(self) -> Self:
        made = self.conversion.value_unit
        if made is not None and made != self.unit:
            raise ValueError(
                f"channel {self.code}: unit is {self.unit!r} but its conversion gives {made!r} "
                f"(a head in m where it has a sensor_elevation, else the calibration's unit); "
                f"set unit: {made}"
            )
        return self


class Instrument(_Strict):
    """An instrument at a place in the dam, with one or more channels."""

    code: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$", max_length=64)
    type: InstrumentType
    name: str | None = None
    name_zh: str | None = Field(default=None, description="the name in Chinese, for the page")
    section: str | None = None
    elevation: float | None = Field(default=None, description="m")
    chainage: float | None = Field(default=None, description="m along the dam axis")
    offset: float | None = Field(default=None, description="m from the axis, + downstream")
    installed: dt.date | None = None
    manual: bool = Field(default=False, description="read by hand rather than by a logger")
    channels: tuple[Channel, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _plumb_line_components(self) -> Self:
        if self.type == "plumb_line" and len(self.channels) < 2:
            raise ValueError(
                "a plumb_line needs two channels: radial (upstream-downstream) and tangential"
            )
        return self


class Logger(_Strict):
    """A data logger whose TOA5 files are ingested: file columns mapped to channels."""

    station: str
    table: str
    timezone: str | None = Field(default=None, description="logger clock; default: the site's")
    columns: dict[str, str] = Field(min_length=1, description="TOA5 column -> channel code")


#: The earliest date a site may accept readings from (the store's first partition year).
EARLIEST_SUPPORTED = dt.date(1800, 1, 1)


class IngestSettings(_Strict):
    """The times a site accepts readings for (``ingest:`` in the site file).

    A reading before ``earliest`` (a date, in the site's zone; default 1900-01-01) or stamped
    more than ``future_allowance_s`` seconds after its arrival (default a day: a logger clock a
    little fast, a time zone set wrong) is rejected with the reason. A year-0001 or year-9999
    time is a logger whose clock was never set.
    """

    earliest: dt.date = Field(default=dt.date(1900, 1, 1), ge=EARLIEST_SUPPORTED)
    future_allowance_s: float = Field(default=24 * 3600, ge=0, le=366 * 24 * 3600)


class Site(_Strict):
    """A whole site: reservoir, dam, instruments with their channels, and loggers."""

    reservoir: Reservoir
    dam: Dam
    instruments: tuple[Instrument, ...] = Field(min_length=1)
    #: Cameras; each is also an instrument of type ``camera`` (:mod:`shuian.site.cameras`).
    cameras: tuple[Camera, ...] = Field(default=(), max_length=256)
    loggers: tuple[Logger, ...] = ()
    analysis: SiteAnalysis = SiteAnalysis()
    notifications: NotificationSettings | None = None
    hydrology: HydrologySettings = HydrologySettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    ingest: IngestSettings = IngestSettings()
    #: The site's language: notifications are sent in it (the page and the API follow the
    #: reader's). English by default, as site files written before it read.
    language: Literal["en", "zh"] = "en"

    @model_validator(mode="before")
    @classmethod
    def _camera_instruments(cls, data: Any) -> Any:
        """Add each camera's instrument (its channels) to the instruments, once."""
        if not isinstance(data, dict) or not _list(data.get("cameras")):
            return data
        instruments = list(_list(data.get("instruments")))
        have = {i.get("code") for i in instruments if isinstance(i, dict)}
        for camera in _list(data["cameras"]):
            if isinstance(camera, dict) and camera.get("code") not in have:
                instruments.append(camera_instrument(camera))
        return {**data, "instruments": instruments}

    @model_validator(mode="after")
    def _references(self) -> Self:
        problems = cross_reference_problems(self.model_dump())
        if problems:
            raise ValueError("; ".join(message for _, message in problems))
        return self

    def channels(self) -> list[Channel]:
        """Every channel of every instrument, in file order."""
        return [c for i in self.instruments for c in i.channels]

    def camera(self, code: str) -> Camera:
        """The camera ``code`` (KeyError when there is none)."""
        for camera in self.cameras:
            if camera.code == code:
                return camera
        raise KeyError(code)

    def level_channel(self) -> str | None:
        """The reservoir level channel: ``analysis.level_channel``, else the first water level."""
        if self.analysis.level_channel is not None:
            return self.analysis.level_channel
        for instrument in self.instruments:
            if instrument.type == "water_level":
                return instrument.channels[0].code
        return None

    def thresholds_of(self, channel: Channel) -> Thresholds | None:
        """A channel's thresholds: its own, else (the level channel) the characteristic levels'."""
        if channel.thresholds is False:
            return None
        if channel.thresholds is not None:
            return channel.thresholds
        if channel.code == self.level_channel():
            return reservoir_level_thresholds(self.reservoir.levels)
        return None

    def instrument_of(self, channel_code: str) -> Instrument:
        """The instrument a channel belongs to."""
        for instrument in self.instruments:
            if any(c.code == channel_code for c in instrument.channels):
                return instrument
        raise KeyError(channel_code)

    def model_of(self, channel: Channel) -> ModelSpec | None:
        """The model of a channel: its own, else its instrument type's default (or none)."""
        if channel.model is False:
            return None
        if channel.model is not None:
            return channel.model
        return default_model(self.instrument_of(channel.code).type)


#: Hysteresis of the level thresholds (m): an alarm clears 5 cm back below its level.
LEVEL_HYSTERESIS_M = 0.05


def reservoir_level_thresholds(levels: CharacteristicLevels) -> Thresholds:
    """The reservoir level's default thresholds, from its characteristic levels (m).

    Above the flood-limit level (in the flood season; the normal pool level outside it) is a
    warning, above the design flood level an alarm; each clears 5 cm back below its level
    (:data:`LEVEL_HYSTERESIS_M`). The check flood level and the crest lie above the alarm
    level and are named in its message.
    """
    flood_limit = Band(max=levels.flood_control, label="flood-limit level")
    alarm = Band(max=levels.design_flood, label="design flood level")
    if levels.flood_season is None:
        return Thresholds(warning=flood_limit, alarm=alarm, hysteresis=LEVEL_HYSTERESIS_M)
    season = Season(start=levels.flood_season.start, end=levels.flood_season.end,
                     warning=flood_limit)
    return Thresholds(
        warning=Band(max=levels.normal, label="normal pool level"),
        alarm=alarm,
        hysteresis=LEVEL_HYSTERESIS_M,
        seasons=(season,),
    )


def _refuse_duplicates(what: str, codes: list[str]) -> None:
    repeated = sorted(code for code, n in Counter(codes).items() if n > 1)
    if repeated:
        raise ValueError(f"{what} codes must be unique; repeated: {', '.join(repeated)}")


def cross_reference_problems(data: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Problems between parts of a site file, as (key path, message) pairs.

    Works on the plain data of a file (dicts and lists, as YAML gives them), even when other
    parts of the file are invalid, so that the loader can report these with every other problem:
    repeated instrument or channel codes, sections the dam does not define, logger columns and
    Modbus registers and SL 651 elements mapped to channels that do not exist, repeated Modbus
    logger names.
    """
    data = data if isinstance(data, dict) else {}
    instruments = [i for i in _list(data.get("instruments")) if isinstance(i, dict)]
    channels = [
        c for i in instruments for c in _list(i.get("channels")) if isinstance(c, dict)
    ]
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for what, key, items in (("instrument", "instruments", instruments),
                             ("channel", "instruments", channels)):
        repeated = sorted(
            str(code) for code, n in Counter(i.get("code") for i in items).items()
            if n > 1 and code is not None
        )
        if repeated:
            problems.append(
                ((key,), f"{what} codes must be unique; repeated: {', '.join(repeated)}")
            )
    dam = data.get("dam") if isinstance(data.get("dam"), dict) else {}
    sections = {s.get("code") for s in _list(dam.get("sections")) if isinstance(s, dict)}
    for n, instrument in enumerate(_list(data.get("instruments"))):
        section = instrument.get("section") if isinstance(instrument, dict) else None
        if section is not None and section not in sections:
            known = ", ".join(sorted(str(s) for s in sections)) or "none defined"
            problems.append(
                (("instruments", n, "section"),
                 f"section {section!r} is not among the dam's sections ({known})")
            )
    codes = {c.get("code") for c in channels}
    hydrology = data.get("hydrology") if isinstance(data.get("hydrology"), dict) else {}
    named: dict[tuple[str | int, ...], Any] = {
        ("hydrology", key): hydrology.get(key) for key in ("outflow_channel", "inflow_channel")
    }
    releases = hydrology.get("releases")
    if isinstance(releases, dict):
        named |= {("hydrology", "releases", purpose): code for purpose, code in releases.items()}
    for loc, code in named.items():
        if code is not None and code not in codes:
            problems.append((loc, f"unknown channel {code!r}"))
    analysis = data.get("analysis") if isinstance(data.get("analysis"), dict) else {}
    for key in ("level_channel", "air_temperature_channel"):
        code = analysis.get(key)
        if code is not None and code not in codes:
            problems.append((("analysis", key), f"unknown channel {code!r}"))
    for n, instrument in enumerate(_list(data.get("instruments"))):
        for m, channel in enumerate(_list(instrument.get("channels"))
                                    if isinstance(instrument, dict) else []):
            model = channel.get("model") if isinstance(channel, dict) else None
            drivers = (
                [*_list(model.get("temperature_channels")), model.get("rain_channel")]
                if isinstance(model, dict) else []
            )
            for code in drivers:
                if code is not None and code not in codes:
                    problems.append(
                        (("instruments", n, "channels", m, "model", "temperature_channels"),
                         f"unknown channel {code!r}")
                    )
    for n, logger in enumerate(_list(data.get("loggers"))):
        columns = logger.get("columns") if isinstance(logger, dict) else None
        for column, code in (columns.items() if isinstance(columns, dict) else []):
            if code not in codes:
                problems.append(
                    (("loggers", n, "columns", column),
                     f"column {column!r} maps to unknown channel {code!r}")
                )
    telemetry = data.get("telemetry") if isinstance(data.get("telemetry"), dict) else {}
    modbus = [m if isinstance(m, dict) else {} for m in _list(telemetry.get("modbus"))]
    names = Counter(m.get("name") for m in modbus)
    for n, poller in enumerate(modbus):
        name = poller.get("name")
        if name is not None and names[name] > 1:
            problems.append((("telemetry", "modbus", n, "name"),
                             f"Modbus logger names must be unique; repeated: {name}"))
        for m, register in enumerate(_list(poller.get("registers"))):
            code = register.get("channel") if isinstance(register, dict) else None
            if code is not None and code not in codes:
                problems.append((("telemetry", "modbus", n, "registers", m, "channel"),
                                 f"unknown channel {code!r}"))
    sl651 = telemetry.get("sl651")
    for n, station in enumerate(_list(sl651.get("stations")) if isinstance(sl651, dict) else []):
        elements = station.get("elements") if isinstance(station, dict) else None
        for ident, code in (elements.items() if isinstance(elements, dict) else []):
            if code not in codes:
                problems.append((("telemetry", "sl651", "stations", n, "elements", ident),
                                 f"element {ident} maps to unknown channel {code!r}"))
    for n, camera in enumerate(_list(data.get("cameras"))):
        camera = camera if isinstance(camera, dict) else {}
        if camera.get("code") in {i.get("code") for i in instruments
                                  if isinstance(i, dict) and i.get("type") != "camera"}:
            problems.append((("cameras", n, "code"), f"camera {camera.get('code')!r} has the "
                             "code of an instrument; a camera is an instrument of its own"))
        section = camera.get("section")
        if section is not None and section not in sections:
            problems.append((("cameras", n, "section"),
                             f"section {section!r} is not among the dam's sections"))
        gauge = camera.get("gauge")
        code = gauge.get("sensor_channel") if isinstance(gauge, dict) else None
        if code is not None and code not in codes:
            problems.append((("cameras", n, "gauge", "sensor_channel"),
                             f"unknown channel {code!r}"))
    return problems


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []

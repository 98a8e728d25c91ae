"""Validation and conversion of a block of rows, as whole-column operations.

A row is accepted only when its channel is known, its time parses (in the site's zone when it
has no offset) and lies in the site's supported range (not before ``ingest.earliest``, not more
than ``ingest.future_allowance_s`` ahead of its arrival), its value is a finite number, its raw
reading converts with the channel's calibration, and the value lies inside the channel's
physical limits.
Everything else becomes a :class:`~shuian.readings.Rejection` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from shuian.i18n import CATALOGUE, Message
from shuian.ingest.rows import RawRows
from shuian.readings import US_PER_S, ReadingBatch, Rejection
from shuian.site import Site
from shuian.site.conversions import Identity, _Conversion


@dataclass(frozen=True)
class ChannelTable:
    """The channels of a site as arrays, indexed by position in ``codes``."""

    codes: pd.Index
    ids: NDArray[np.int64]
    minimum: NDArray[np.float64]
    maximum: NDArray[np.float64]
    conversions: tuple[_Conversion, ...]
    timezone: str
    #: Readings before this time are refused (µs since 1970, UTC).
    earliest_us: int
    earliest: str
    #: Readings stamped further ahead of their arrival than this are refused (s).
    future_allowance_s: float

    @classmethod
    def from_site(cls, site: Site, ids: dict[str, int]) -> ChannelTable:
        """Build the table from the site model and the store's channel ids (by code)."""
        channels = site.channels()
        nan = float("nan")
        return cls(
            codes=pd.Index([c.code for c in channels], dtype="str"),
            ids=np.array([ids[c.code] for c in channels], dtype=np.int64),
            minimum=np.array([nan if c.limits.min is None else c.limits.min for c in channels]),
            maximum=np.array([nan if c.limits.max is None else c.limits.max for c in channels]),
            conversions=tuple(c.conversion for c in channels),
            timezone=site.reservoir.timezone,
            earliest_us=round(
                pd.Timestamp(site.ingest.earliest).tz_localize(site.reservoir.timezone)
                .timestamp() * US_PER_S
            ),
            earliest=site.ingest.earliest.isoformat(),
            future_allowance_s=site.ingest.future_allowance_s,
        )


def validate(
    rows: RawRows, table: ChannelTable, *, now_us: int
) -> tuple[ReadingBatch, list[Rejection]]:
    """Check and convert one block of rows; return the accepted readings and the rejections."""
    n = len(rows)
    reasons = np.full(n, None, dtype=object) if rows.reasons is None else rows.reasons.copy()
    refused = ~pd.isna(reasons)

    def refuse(
        mask: NDArray[np.bool_], reason: str | Message | NDArray[np.object_] | _Quote
    ) -> None:
        """Give rows in ``mask`` that have no reason yet this one (the first reason wins).

        A :class:`_Quote` is written out for those rows only (most blocks refuse none).
        """
        fresh = mask & ~refused
        if not fresh.any():
            return
        if isinstance(reason, _Quote):
            reasons[fresh] = _quoted(reason.prefix, reason.column[fresh])
        else:
            reasons[fresh] = reason if isinstance(reason, str | Message) else reason[fresh]
        refused[fresh] = True

    position = table.codes.get_indexer(pd.Index(rows.channel.fillna("")))
    refuse(rows.channel.isna().to_numpy(), Message.of("reject.channel_empty"))
    refuse(position < 0, _Quote(Message.of("reject.unknown_channel"), rows.channel))

    time_us, time_reason = parse_times(rows.time, rows.timezone or table.timezone)
    refuse(~pd.isna(time_reason), time_reason)
    refuse(time_us < table.earliest_us, _Quote(
        Message.of("reject.too_early", earliest=table.earliest), rows.time))
    ahead = table.future_allowance_s
    refuse(time_us > now_us + int(ahead * US_PER_S), _Quote(
        Message.of("reject.future", ahead=_duration(ahead)), rows.time))

    number = to_numbers(rows.value)
    missing = rows.value.isna().to_numpy()
    kind = _column(rows.kind)
    refuse(missing, Message.of("reject.empty", kind=kind))
    refuse(~missing & np.isnan(number), _Quote(Message.of("reject.not_number", kind=kind),
                                               rows.value))
    refuse(np.isinf(number), Message.of("reject.infinite", kind=kind))

    temperature: NDArray[np.float64] | None = None
    if rows.temperature is not None:
        temperature = to_numbers(rows.temperature)
        bad_temperature = rows.temperature.notna().to_numpy() & np.isnan(temperature)
        refuse(bad_temperature, _Quote(Message.of("reject.temperature_not_number"),
                                       rows.temperature))

    ok = ~refused
    value = number.copy()
    raw = np.full(n, np.nan)
    if rows.kind == "raw":
        raw = number
        value = _convert(position, number, temperature, table, ok, refuse)
        ok = ~refused

    safe = np.where(position >= 0, position, 0)
    low, high = table.minimum[safe], table.maximum[safe]
    refuse(ok & (value < low), _limit_reason("reject.below_minimum", value, low, table, safe))
    refuse(ok & (value > high), _limit_reason("reject.above_maximum", value, high, table, safe))

    ok = ~refused
    batch = ReadingBatch(
        channel_id=table.ids[safe[ok]],
        time_us=time_us[ok],
        value=value[ok],
        raw=raw[ok],
    )
    rejected = np.flatnonzero(~ok)
    channel_text = [None if pd.isna(c) else str(c) for c in rows.channel.iloc[rejected]]
    rejections = [
        Rejection(
            source=rows.source,
            line=int(rows.line[i]),
            raw=rows.text(int(i)),
            reason=str(reasons[i]),
            channel=channel_text[k],
            **_reason_key(reasons[i]),
        )
        for k, i in enumerate(rejected)
    ]
    return batch, rejections


def _convert(
    position: NDArray[np.intp],
    raw: NDArray[np.float64],
    temperature: NDArray[np.float64] | None,
    table: ChannelTable,
    ok: NDArray[np.bool_],
    refuse: object,
) -> NDArray[np.float64]:
    """Apply each channel's calibration to its raw readings (one call per channel, not row)."""
    value = np.full(len(raw), np.nan)
    for p in np.unique(position[ok]):
        conversion = table.conversions[p]
        rows = np.flatnonzero(ok & (position == p))
        temps = temperature[rows] if temperature is not None else None
        if conversion.needs_temperature and (temps is None or np.isnan(temps).any()):
            lacking = rows if temps is None else rows[np.isnan(temps)]
            mask = np.zeros(len(raw), dtype=bool)
            mask[lacking] = True
            refuse(mask, Message.of(  # type: ignore[operator]
                "reject.needs_temperature", channel=str(table.codes[p])))
            rows = np.setdiff1d(rows, lacking)
            temps = temperature[rows] if temperature is not None else None
        if isinstance(conversion, Identity):
            value[rows] = raw[rows]
        else:
            with np.errstate(all="ignore"):
                value[rows] = conversion.convert(raw[rows], temps)
    failed = ok & np.isnan(value)
    refuse(failed, Message.of("reject.calibration_no_value"))  # type: ignore[operator]
    return value


def to_numbers(column: pd.Series) -> NDArray[np.float64]:
    """Text to float64, NaN where empty or not a number.

    Arrow's parser takes the whole column at once; pandas' slower one is used only when some
    cell is not a number.
    """
    try:
        return np.asarray(
            pc.cast(pa.array(column, type=pa.string()), pa.float64()).to_numpy(
                zero_copy_only=False
            ),
            dtype=np.float64,
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def parse_times(times: pd.Series, timezone: str) -> tuple[NDArray[np.int64], NDArray[np.object_]]:
    """Parse ISO 8601 times to µs since 1970 UTC; times without an offset are in ``timezone``.

    Returns the times (0 where unparseable) and a reason per row (None where the time is good).
    """
    n = len(times)
    reasons = np.full(n, None, dtype=object)
    result = np.zeros(n, dtype=np.int64)
    parsed_ok = np.zeros(n, dtype=bool)
    present = times.notna().to_numpy()
    reasons[~present] = Message.of("reject.time_empty")
    try:
        parsed = pd.to_datetime(times, format="ISO8601", errors="coerce")
        groups = [(np.ones(n, dtype=bool), parsed)]
    except (ValueError, TypeError):  # mixed offsets, or offsets and local times together
        has_offset = times.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True, na=False).to_numpy()
        groups = [
            (has_offset, pd.to_datetime(times[has_offset], format="ISO8601", utc=True,
                                        errors="coerce")),
            (~has_offset, pd.to_datetime(times[~has_offset], format="ISO8601", errors="coerce")),
        ]
    for mask, stamps in groups:
        if len(stamps) == 0:
            continue
        series = pd.Series(stamps)
        if series.dt.tz is None:
            local = series.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
            unplaceable = series.notna().to_numpy() & local.isna().to_numpy()
            where = np.flatnonzero(mask)[unplaceable]
            reasons[where] = Message.of("reject.time_ambiguous", timezone=timezone)
            series = local
        utc = series.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
        values = utc.to_numpy()
        good = ~np.isnat(values)
        idx = np.flatnonzero(mask)
        result[idx[good]] = values[good].astype(np.int64)
        parsed_ok[idx[good]] = True
    bad = present & ~parsed_ok & pd.isna(reasons)
    if bad.any():
        # An ISO time whose year no datetime here can hold (0001, 9999, 20240): say so.
        year = pd.to_numeric(times[bad].str.extract(r"^\s*([+-]?\d{4,})-\d\d-\d\d", expand=False),
                             errors="coerce")
        unheld = (year < 1678) | (year > 2261)
        where = np.flatnonzero(bad)[unheld.to_numpy()]
        reasons[where] = _quoted(Message.of("reject.time_range"), times.iloc[where])
        bad[where] = False
    if bad.any():
        reasons[bad] = _quoted(Message.of("reject.time_format"), times[bad])
    return result, reasons


def _duration(seconds: float) -> str:
    """``a day``, ``6 h`` or ``90 s``: an allowance as people say it."""
    if seconds == 24 * 3600:
        return "a day"
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds:g} s"


class _Quote(NamedTuple):
    """A reason quoting each row's text of ``column`` (its ``{text}``), made when needed."""

    prefix: Message
    column: pd.Series


def _quoted(prefix: Message, column: pd.Series) -> NDArray[np.object_]:
    """``prefix`` with ``text`` the row's own text (cut to 60 characters), for every row."""
    text = column.fillna("").astype(str).str.slice(0, 60)
    quoted = np.empty(len(text), dtype=object)
    quoted[:] = [Message(prefix.key, {**prefix.params, "text": t}) for t in text]
    return quoted


def _column(kind: str) -> Message | str:
    """The name of the value column (value, raw) as a word of the catalogue."""
    return Message.of(f"column.{kind}") if f"column.{kind}" in CATALOGUE else kind


def _reason_key(reason: object) -> dict[str, Any]:
    """The :class:`~shuian.readings.Rejection` fields of a reason with a catalogue key."""
    if isinstance(reason, Message):
        data = reason.to_json()
        return {"reason_key": data["key"], "reason_params": data["params"]}
    return {}


def _limit_reason(
    key: str,
    value: NDArray[np.float64],
    limit: NDArray[np.float64],
    table: ChannelTable,
    position: NDArray[np.intp],
) -> NDArray[np.object_]:
    """Reasons for values outside physical limits (built only for the rows that need one)."""
    reasons = np.full(len(value), None, dtype=object)
    outside = (value < limit) if "below" in key else (value > limit)
    for i in np.flatnonzero(outside):
        reasons[i] = Message.of(key, value=float(value[i]), limit=float(limit[i]),
                                channel=str(table.codes[position[i]]))
    return reasons

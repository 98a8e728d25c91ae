"""Alarm levels of a channel's readings under each rule, and the transitions they cause.

Levels are 0 (normal), 1 (attention), 2 (warning), 3 (alarm). Each rule turns a series of
readings into a level per reading, whole arrays at once:

- fixed thresholds, with hysteresis: a level is entered when the value leaves its band and left
  only when the value is back inside the band by ``hysteresis`` (so a value hovering at a limit
  does not flap);
- rate of change per day between consecutive readings;
- the model envelope: |residual| > k·σ for ``persistence`` consecutive readings enters the level,
  ``persistence`` consecutive readings inside leave it (one noisy reading pages nobody).

A state machine with memory is vectorised by marking where it must switch on (enter) and off
(leave) and carrying the last switch forward (a forward fill).

:func:`transitions` turns the level series into the events of one alarm's lifecycle: raised,
escalated, de-escalated, cleared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

LEVEL_NAMES = ("normal", "attention", "warning", "alarm")
US_PER_DAY = 86_400_000_000

TransitionKind = Literal["raised", "escalated", "deescalated", "cleared"]


# What the rules read of a channel's thresholds; the site's Band, MonthDays, Season, RateLimits
# and Thresholds (the site file's ``thresholds:``) are these.


class Band(Protocol):
    """Bounds of one alarm level, channel unit; either side may be open (None)."""

    @property
    def min(self) -> float | None:
        """Lowest value inside the band."""

    @property
    def max(self) -> float | None:
        """Highest value inside the band."""

    @property
    def label(self) -> str | None:
        """What the bound is, for the alarm's message (e.g. "flood-limit level")."""


class MonthDays(Protocol):
    """A part of every year, ``start`` to ``end`` (``MM-DD``), both included; may wrap."""

    @property
    def start(self) -> str:
        """First day, ``MM-DD``."""

    @property
    def end(self) -> str:
        """Last day, ``MM-DD`` (before ``start``: the part wraps over the new year)."""


class Bands(Protocol):
    """A band at each of the three levels (None: no band at that level)."""

    @property
    def attention(self) -> Band | None:
        """The attention band."""

    @property
    def warning(self) -> Band | None:
        """The warning band."""

    @property
    def alarm(self) -> Band | None:
        """The alarm band."""


class Season(MonthDays, Bands, Protocol):
    """Bands that replace the channel's own within a part of every year."""


class RateLimits(Protocol):
    """Largest change per day at each level, channel unit per day (None: no limit)."""

    @property
    def attention(self) -> float | None:
        """Attention above this change per day."""

    @property
    def warning(self) -> float | None:
        """Warning above this change per day."""

    @property
    def alarm(self) -> float | None:
        """Alarm above this change per day."""


class Thresholds(Bands, Protocol):
    """A channel's bands at three levels, its rate limits, hysteresis and seasons."""

    @property
    def rate(self) -> RateLimits | None:
        """Limits of the change per day."""

    @property
    def hysteresis(self) -> float:
        """How far back inside its band a value must be to leave a level, channel unit."""

    @property
    def seasons(self) -> Sequence[Season]:
        """Parts of the year with bands of their own (the first that holds a day wins)."""


def day_number(text: str) -> int:
    """A day of the year ``MM-DD`` as the number ``month * 100 + day`` (``06-01`` -> 601)."""
    return int(text[:2]) * 100 + int(text[3:])


def level_name(level: int) -> str:
    """The name of a level number (0 normal .. 3 alarm)."""
    return LEVEL_NAMES[level]


def level_number(name: str) -> int:
    """The number of a level name."""
    return LEVEL_NAMES.index(name)


def hysteresis(
    enter: NDArray[np.bool_], stay: NDArray[np.bool_], *, initially: bool
) -> NDArray[np.bool_]:
    """A switch that turns on where ``enter``, off where not ``stay``, else keeps its state.

    ``enter`` must imply ``stay``. ``initially`` is the state before the first element.
    """
    switch = np.where(enter, 1.0, np.where(stay, np.nan, 0.0))
    state = pd.Series(switch).ffill().fillna(1.0 if initially else 0.0).to_numpy()
    return np.asarray(state == 1.0, dtype=np.bool_)


def in_season(month_day: NDArray[np.int64], season: MonthDays) -> NDArray[np.bool_]:
    """Which days (``month * 100 + day``, in the site's zone) fall within ``season``."""
    start, end = day_number(season.start), day_number(season.end)
    if start <= end:
        return np.asarray((month_day >= start) & (month_day <= end), dtype=np.bool_)
    return np.asarray((month_day >= start) | (month_day <= end), dtype=np.bool_)


def band_at(thresholds: Thresholds, level: int, month_day: int | None = None) -> Band | None:
    """The band of ``level`` (1-3) that holds on a day (``month * 100 + day``; None: no season).

    None for level 0 (normal) and for a level without a band.
    """
    if level == 0:
        return None
    name = level_name(level)
    if month_day is not None:
        day = np.array([month_day], dtype=np.int64)
        for season in thresholds.seasons:
            band: Band | None = getattr(season, name)
            if band is not None and in_season(day, season)[0]:
                return band
    found: Band | None = getattr(thresholds, name)
    return found


def threshold_levels(
    values: NDArray[np.float64],
    thresholds: Thresholds,
    *,
    initial_level: int = 0,
    month_day: NDArray[np.int64] | None = None,
) -> NDArray[np.int8]:
    """Level of each value under fixed thresholds with hysteresis (NaN values keep the state).

    ``month_day`` (``month * 100 + day`` of each value, in the site's zone) applies the bands of
    ``thresholds.seasons`` on their days; without it only the channel's own bands apply.
    """
    levels = np.zeros(len(values), dtype=np.int8)
    h = thresholds.hysteresis
    with np.errstate(invalid="ignore"):
        for number in (1, 2, 3):
            high, low = _bounds(thresholds, number, len(values), month_day)
            if high is None or low is None:
                continue
            enter = (values > high) | (values < low)
            stay = (values > high - h) | (values < low + h) | np.isnan(values)
            active = hysteresis(enter, stay, initially=initial_level >= number)
            levels[active] = np.maximum(levels[active], number)
    return levels


def _bounds(
    thresholds: Thresholds, level: int, size: int, month_day: NDArray[np.int64] | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | tuple[None, None]:
    """Upper and lower bound of ``level`` for each value (inf where a side is open)."""
    name = level_name(level)
    base: Band | None = getattr(thresholds, name)
    seasonal = [(s, getattr(s, name)) for s in thresholds.seasons if getattr(s, name) is not None]
    if base is None and not (seasonal and month_day is not None):
        return None, None
    high = np.full(size, np.inf if base is None or base.max is None else base.max)
    low = np.full(size, -np.inf if base is None or base.min is None else base.min)
    if month_day is not None:
        taken = np.zeros(size, dtype=np.bool_)
        for season, band in seasonal:
            here = in_season(month_day, season) & ~taken
            high[here] = np.inf if band.max is None else band.max
            low[here] = -np.inf if band.min is None else band.min
            taken |= here
    return high, low


def rate_levels(
    times_us: NDArray[np.int64],
    values: NDArray[np.float64],
    rate: RateLimits,
    *,
    previous: tuple[int, float] | None = None,
) -> NDArray[np.int8]:
    """Level of each reading by its change per day since the reading before it.

    ``previous`` is the (time µs, value) of the reading before the first one, if known.
    """
    t = times_us.astype(np.float64)
    v = values
    if previous is not None:
        t = np.concatenate([[float(previous[0])], t])
        v = np.concatenate([[previous[1]], v])
    with np.errstate(invalid="ignore", divide="ignore"):
        per_day = np.abs(np.diff(v)) / (np.diff(t) / US_PER_DAY)
    if previous is None:
        per_day = np.concatenate([[np.nan], per_day])
    levels = np.zeros(len(values), dtype=np.int8)
    with np.errstate(invalid="ignore"):
        for number, limit in enumerate((rate.attention, rate.warning, rate.alarm), start=1):
            if limit is not None:
                levels[per_day > limit] = number
    return levels


def consecutive(flags: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Length of the run of True ending at each element (0 where False)."""
    index = np.arange(len(flags))
    last_false = np.maximum.accumulate(np.where(~flags, index, -1))
    return np.where(flags, index - last_false, 0)


def envelope_levels(
    residuals: NDArray[np.float64],
    sigma: float,
    *,
    warning_sigma: float,
    alarm_sigma: float,
    persistence: int,
    initial_level: int = 0,
) -> NDArray[np.int8]:
    """Level of each reading by its model residual (warning 2, alarm 3), with persistence.

    A level is entered after ``persistence`` consecutive residuals beyond its k·σ and left after
    ``persistence`` consecutive residuals inside it. NaN residuals (flagged readings) count as
    inside. Pass the residuals of a few readings before the new ones as context so that runs
    that started earlier are counted.
    """
    levels = np.zeros(len(residuals), dtype=np.int8)
    size = np.abs(residuals)
    with np.errstate(invalid="ignore"):
        for number, k in ((2, warning_sigma), (3, alarm_sigma)):
            outside = size > k * sigma
            inside = ~outside
            enter = consecutive(outside) >= persistence
            stay = consecutive(inside) < persistence
            active = hysteresis(enter, stay | enter, initially=initial_level >= number)
            levels[active] = number
    return levels


@dataclass(frozen=True)
class Transition:
    """A change of an alarm's level at a reading."""

    kind: TransitionKind
    index: int
    level: int


def transitions(levels: NDArray[np.int8], *, open_level: int = 0) -> list[Transition]:
    """The lifecycle events caused by a level series, given the level of the open alarm.

    One loop step per change of level, not per reading.
    """
    before = np.concatenate([[open_level], levels[:-1]]).astype(np.int8)
    events = []
    for i in np.flatnonzero(levels != before):
        old, new = int(before[i]), int(levels[i])
        kind: TransitionKind
        if old == 0:
            kind = "raised"
        elif new == 0:
            kind = "cleared"
        elif new > old:
            kind = "escalated"
        else:
            kind = "deescalated"
        events.append(Transition(kind, int(i), new))
    return events

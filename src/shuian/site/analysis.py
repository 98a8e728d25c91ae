"""Analysis settings in the site file: statistical models, data checks and alarm thresholds.

Every channel may carry ``model``, ``checks`` and ``thresholds`` keys; what it leaves out comes
from the defaults of its instrument type (:func:`default_model`), so a site file needs to say
only what differs from common practice.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

AgeingTerm = Literal["theta", "log", "exp"]

#: Half a day (s): the default span of consecutive envelope exceedances for automatic channels.
HALF_DAY_S = 43_200


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Strict):
    """A statistical model of a channel (HST or HTT) and its envelope.

    HST: ``y = a0 + Σ a_i H^i + Σ (b_j sin + c_j cos)(2πj s/365.25) + ageing terms``;
    HTT replaces the harmonics by measured temperatures (``temperature_channels``, averaged
    over ``temperature_windows`` days). ``level_lag_days`` filters the level (exponential lag)
    for piezometers and seepage; ``lagged_means`` adds the mean level over days 1-15, 16-30,
    31-60 and 61-90 before each reading (Chinese practice).
    """

    kind: Literal["hst", "htt", "seasonal"] = "hst"
    head_degree: int = Field(default=3, ge=1, le=4)
    harmonics: int = Field(default=2, ge=0, le=2)
    ageing: tuple[AgeingTerm, ...] = ("theta", "log")
    level_lag_days: float = Field(default=0.0, ge=0)
    lagged_means: bool = False
    temperature_channels: tuple[str, ...] = ()
    temperature_windows: tuple[int, ...] = (1, 7, 30)
    #: Rainfall channel whose means over consecutive spans of days before each reading enter
    #: the model (piezometers and seepage respond to rain: Chinese practice).
    rain_channel: str | None = None
    rain_windows: tuple[int, ...] = Field(
        default=(7, 15, 30, 60), description="span ends in days: (1-7), (8-15), (16-30), ..."
    )
    fit_window_days: int = Field(default=3 * 365, ge=60)
    warning_sigma: float = Field(default=2.0, gt=0)
    alarm_sigma: float = Field(default=3.0, gt=0)
    persistence: int | None = Field(
        default=None,
        ge=1,
        description="consecutive exceedances to raise; default: half a day of readings "
        "for automatic channels (residuals of hourly readings come in runs), 2 for daily or "
        "slower ones",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if list(self.rain_windows) != sorted(set(self.rain_windows)) or (
            self.rain_windows and self.rain_windows[0] < 1
        ):
            raise ValueError("rain_windows must be increasing whole days, e.g. [7, 15, 30, 60]")
        if self.kind == "htt" and not self.temperature_channels:
            raise ValueError("an htt model needs temperature_channels")
        if self.alarm_sigma < self.warning_sigma:
            raise ValueError(
                f"alarm_sigma ({self.alarm_sigma}) must not be below warning_sigma "
                f"({self.warning_sigma})"
            )
        return self


    def persistence_for(self, interval_s: float | None) -> int:
        """Consecutive readings beyond the envelope that raise (or clear) an alarm."""
        if self.persistence is not None:
            return self.persistence
        if interval_s is None or interval_s >= 86_400:
            return 2
        return max(3, math.ceil(HALF_DAY_S / interval_s))


class Band(_Strict):
    """Bounds of one alarm level (in the channel's unit); either may be left out."""

    min: float | None = None
    max: float | None = None
    #: What the bound is, for the alarm's message (e.g. "flood-limit level").
    label: str | None = None


class MonthDays(_Strict):
    """A part of every year, ``start`` to ``end`` as ``MM-DD``, both days included.

    ``end`` before ``start`` wraps over the new year (``11-01`` to ``03-31``).
    """

    start: str = Field(pattern=r"^\d{2}-\d{2}$", description="MM-DD")
    end: str = Field(pattern=r"^\d{2}-\d{2}$", description="MM-DD")

    @model_validator(mode="after")
    def _real_days(self) -> Self:
        for text in (self.start, self.end):
            try:
                dt.date(2000, int(text[:2]), int(text[3:]))  # a leap year: 02-29 is a day
            except ValueError as exc:
                raise ValueError(f"{text!r} is not a day of the year (MM-DD)") from exc
        return self


class Season(MonthDays):
    """Bands that replace the channel's own within a part of every year (a flood season)."""

    attention: Band | None = None
    warning: Band | None = None
    alarm: Band | None = None


class RateLimits(_Strict):
    """Largest change per day (channel unit per day) at each level."""

    attention: float | None = Field(default=None, gt=0)
    warning: float | None = Field(default=None, gt=0)
    alarm: float | None = Field(default=None, gt=0)


class Thresholds(_Strict):
    """Fixed thresholds at three levels, a rate limit, and the hysteresis that stops flapping.

    A value outside ``alarm`` raises an alarm, outside ``warning`` a warning, outside
    ``attention`` an attention. An open alarm clears only when the value is back inside its
    band by ``hysteresis`` (channel unit).
    """

    attention: Band | None = None
    warning: Band | None = None
    alarm: Band | None = None
    rate: RateLimits | None = None
    hysteresis: float = Field(default=0.0, ge=0)
    #: Parts of the year with bands of their own (the first that holds a day wins).
    seasons: tuple[Season, ...] = ()


class Checks(_Strict):
    """Data checks that flag readings (never delete them).

    Channels whose value legitimately stays constant for long (a held reservoir level, rain,
    gated releases) switch the spike and stuck checks off with ``null``.
    """

    spike_window: int | None = Field(
        default=25, ge=5, description="readings in the Hampel window; null: no spike check"
    )
    spike_sigmas: float = Field(default=6.0, gt=0, description="robust sigmas (1.4826 MAD)")
    rate_per_hour: float | None = Field(default=None, gt=0, description="largest change/hour")
    jump_per_hour: float | None = Field(
        default=None, gt=0,
        description="largest change/hour the quantity can physically make: a reading farther "
        "than that (over at least an hour) from the last good reading is a spike (the reservoir "
        "level's comes from its storage curve, outlets and check flood when not given)",
    )
    stuck_readings: int | None = Field(
        default=48, ge=3, description="identical readings = stuck; null: no stuck check"
    )
    stuck_tolerance: float = Field(default=0.0, ge=0)
    gap_factor: float = Field(default=3.0, gt=1, description="gap = interval x this factor")
    no_data_factor: float = Field(default=6.0, gt=1, description="no-data alarm after")


class SiteAnalysis(_Strict):
    """Site-wide analysis settings: which channels drive the models."""

    level_channel: str | None = Field(default=None, description="upstream water level (m)")
    air_temperature_channel: str | None = None
    reference_date: dt.date | None = Field(
        default=None, description="origin of the time effect θ; default: first reading"
    )


#: Instrument types whose readings are modelled by default, and how.
DEFAULT_MODELS: dict[str, ModelSpec] = {
    "plumb_line": ModelSpec(),
    "joint_meter": ModelSpec(),
    "strain_gauge": ModelSpec(),
    "levelling": ModelSpec(harmonics=1),
    "piezometer": ModelSpec(level_lag_days=3.0, ageing=("theta", "exp")),
    "seepage_weir": ModelSpec(lagged_means=True, ageing=("theta", "exp")),
    "thermometer": ModelSpec(kind="seasonal", ageing=("theta",)),
}


def default_model(instrument_type: str) -> ModelSpec | None:
    """The model a channel of this instrument type gets when its site file says none."""
    return DEFAULT_MODELS.get(instrument_type)

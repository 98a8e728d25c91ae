r"""HST and HTT models: the statistical models of a dam's response to water, season and age.

A monitored quantity :math:`y` (a displacement, an uplift pressure, a seepage flow) is written
as the sum of a reversible effect of the water load, a reversible seasonal (or measured thermal)
effect and an irreversible effect of time:

.. math::

    y(t) = a_0 + \sum_{i=1}^{d} a_i H^i + \sum_{m} \ell_m \bar H_m
         + \sum_{j=1}^{J} \left(b_j \sin\frac{2\pi j s}{365.25}
                               + c_j \cos\frac{2\pi j s}{365.25}\right)
         + d_1 \theta + d_2 \ln(1+\theta) + d_3 \left(1 - e^{-\theta}\right)

with

- :math:`H = (h - h_{min}) / (h_{max} - h_{min})` the normalised head: :math:`h` (m) is the
  reservoir level at the reading's time (or its exponentially lagged level, see
  :func:`lagged_level`), :math:`h_{min}, h_{max}` its range over the fit window, stored in the
  fitted model so that predictions use the same scale;
- :math:`\bar H_m` the normalised mean level over days 1-15, 16-30, 31-60 and 61-90 before the
  reading (``lagged_means``; Chinese practice for seepage and piezometers);
- :math:`s` the day of the year (days since 1 January 00:00 UTC of the reading's year); the
  day of the year, not the days since the reference date, so that seasonal coefficients keep
  their meaning (phase in the calendar year) across channels and refits with other reference
  dates, as in the published form of the model. The reset at New Year shifts the phase by at
  most 0.75 day (0.013 rad), which is far below what daily data resolve. UTC days: the site's
  time zone moves :math:`s` by hours, invisible at a daily scale;
- :math:`\theta = (t - t_{ref}) / 100` days, :math:`t_{ref}` the reference date (the θ
  origin), so that :math:`\theta` is of order 1-50 and the columns stay well scaled.

HTT replaces the harmonics by moving means of measured temperatures (°C; one column per
channel and window, :math:`\bar T_w` = mean over the :math:`w` days up to the reading).

Sources: Willm, G. & Beaujoint, N. (1967), "Les méthodes de surveillance des barrages au
service de la production hydraulique d'Électricité de France", 9th ICOLD Congress, Q34 R30
(HST); Léger, P. & Leclerc, M. (2007), "Hydrostatic, temperature, time-displacement model for
concrete dams", J. Eng. Mech. 133(3), 267-277 (HTT); the Chinese dam-safety monitoring practice
(DL/T 5178 and SL 601 and their commentaries) for lagged means, the :math:`1 - e^{-\theta}`
ageing term and stepwise regression.

Least squares are solved by Householder QR of the design matrix (never the normal equations
:math:`X^T X`), many channels at once: one QR shared by every channel, with a small correction
per channel for the readings it misses (see :func:`fit_many`).
"""

from __future__ import annotations

import functools
import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from shuian.errors import InvalidRequestError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Microseconds per day.
US_PER_DAY = 86_400_000_000
#: Days of the seasonal period (the mean Gregorian year).
YEAR_DAYS = 365.25
#: θ is counted in units of this many days.
THETA_DAYS = 100.0
#: Windows of the lagged means of level, (first, last) day before the reading.
LAGGED_MEAN_WINDOWS: tuple[tuple[int, int], ...] = ((1, 15), (16, 30), (31, 60), (61, 90))
#: The least number of readings per term.
MIN_READINGS_PER_TERM = 3
#: How long the last value of a level or temperature series is held past its last time.
HOLD_DAYS = 1.0

#: Term groups, in the order of :func:`components`.
CONSTANT = "constant"
HYDROSTATIC = "hydrostatic"
SEASONAL = "seasonal"
THERMAL = "thermal"
TIME = "time"
RAIN = "rain"

__all__ = [
    "CONSTANT",
    "HYDROSTATIC",
    "LAGGED_MEAN_WINDOWS",
    "SEASONAL",
    "THERMAL",
    "RAIN",
    "TIME",
    "DailySeries",
    "Design",
    "FittedModel",
    "LevelSeries",
    "ModelTerms",
    "Normalisation",
    "components",
    "design_matrix",
    "envelope_flags",
    "fit",
    "fit_many",
    "history_days",
    "lagged_level",
    "predict",
    "stepwise",
]


class ModelTerms(Protocol):
    """What a model reads of a channel's model settings (the site's ``ModelSpec`` is one).

    The site file validates them; here they only choose the columns of the design matrix.
    """

    @property
    def kind(self) -> str:
        """``"hst"``, ``"htt"`` (measured temperatures for the season) or ``"seasonal"``."""

    @property
    def head_degree(self) -> int:
        """Highest power of the normalised head :math:`H` (1-4)."""

    @property
    def harmonics(self) -> int:
        """Pairs of yearly harmonics (0-2); not used by HTT."""

    @property
    def ageing(self) -> Sequence[str]:
        """Time terms, of ``"theta"`` (θ), ``"log"`` (ln(1 + θ)) and ``"exp"`` (1 - exp(-θ))."""

    @property
    def level_lag_days(self) -> float:
        """Time constant of the exponential lag of the level, days (0: no lag)."""

    @property
    def lagged_means(self) -> bool:
        """Whether the mean levels over days 1-15, 16-30, 31-60 and 61-90 are terms."""

    @property
    def temperature_channels(self) -> Sequence[str]:
        """Temperature channels of an HTT model."""

    @property
    def temperature_windows(self) -> Sequence[int]:
        """Days of each moving mean of the temperatures (HTT)."""

    @property
    def rain_channel(self) -> str | None:
        """Rainfall channel whose means over spans of days before a reading are terms."""

    @property
    def rain_windows(self) -> Sequence[int]:
        """Ends of the rainfall spans, increasing days: ``(7, 15)`` means days 1-7 and 8-15."""


SpecT = TypeVar("SpecT", bound=ModelTerms)
#: The settings class a fitted model keeps (covariant: a model of ``ModelSpec`` is one of
#: :class:`ModelTerms`).
SpecT_co = TypeVar("SpecT_co", bound=ModelTerms, covariant=True)


@dataclass(frozen=True, eq=False)
class DailySeries:
    """A series sampled about daily (reservoir level in m, or a temperature in °C).

    Gaps are allowed: between two samples the series is interpolated linearly in time; NaN
    samples are ignored; samples at the same time are averaged. The last value is held for
    :data:`HOLD_DAYS` after the last sample, so that a daily series stamped at 00:00 covers
    the readings of its last day.

    Attributes
    ----------
    times_us : int64 array, µs since 1970-01-01 UTC
    values : float64 array, same length
    """

    times_us: IntArray
    values: FloatArray


#: The reservoir level (m) as a :class:`DailySeries`.
LevelSeries = DailySeries


@dataclass(frozen=True)
class Normalisation:
    r"""The level range that maps the head to :math:`H \in [0, 1]` over the fit window (m)."""

    level_min: float
    level_max: float

    def apply(self, level: FloatArray) -> FloatArray:
        """Normalised head :math:`H = (h - h_{min}) / (h_{max} - h_{min})`."""
        return (level - self.level_min) / (self.level_max - self.level_min)


class Design(NamedTuple):
    """A design matrix and what its columns are."""

    matrix: FloatArray
    terms: tuple[str, ...]
    groups: tuple[str, ...]
    normalisation: Normalisation | None


# --------------------------------------------------------------------------------------------
# Series: interpolation, running means, exponential lag


class _Knots(NamedTuple):
    x: FloatArray  # days since 1970 UTC, strictly increasing, at least two
    v: FloatArray
    integral: FloatArray  # ∫ v dt from x[0] to each knot (trapezoids; exact for the interpolant)


def _knots(series: DailySeries, name: str) -> _Knots:
    times = np.asarray(series.times_us, dtype=np.int64)
    values = np.asarray(series.values, dtype=np.float64)
    if times.shape != values.shape or times.ndim != 1:
        raise InvalidRequestError(
            f"the {name} series has {times.size} times but {values.size} values"
        )
    keep = np.isfinite(values)
    times, values = times[keep], values[keep]
    if times.size == 0:
        raise InvalidRequestError(f"the {name} series holds no values")
    unique, inverse, counts = np.unique(times, return_inverse=True, return_counts=True)
    means = np.bincount(inverse.ravel(), weights=values, minlength=unique.size) / counts
    x = unique.astype(np.float64) / US_PER_DAY
    x = np.append(x, x[-1] + HOLD_DAYS)
    v = np.append(means, means[-1])
    steps = np.diff(x) * (v[1:] + v[:-1]) / 2.0
    return _Knots(x, v, np.concatenate(([0.0], np.cumsum(steps))))


def _integral_at(knots: _Knots, t: FloatArray) -> FloatArray:
    """∫ from the first knot to ``t`` of the linear interpolant (t inside the knots)."""
    k = np.clip(np.searchsorted(knots.x, t, side="right") - 1, 0, knots.x.size - 2)
    vt = np.interp(t, knots.x, knots.v)
    return knots.integral[k] + (t - knots.x[k]) * (knots.v[k] + vt) / 2.0


def _window_mean(knots: _Knots, t: FloatArray, first_day: float, last_day: float) -> FloatArray:
    r"""Mean of the series over :math:`[t - d_{last},\ t - d_{first} + 1]` (days)."""
    upper = t - (first_day - 1.0)
    lower = t - last_day
    return (_integral_at(knots, upper) - _integral_at(knots, lower)) / (last_day - first_day + 1)


def _check_cover(knots: _Knots, t: FloatArray, history: float, name: str) -> None:
    if t.size == 0:
        return
    first, last = float(t.min()) - history, float(t.max())
    if first < knots.x[0] or last > knots.x[-1]:
        need = f" (with {history:g} days of history before the first)" if history else ""
        raise InvalidRequestError(
            f"the {name} series covers {_iso(knots.x[0])} to {_iso(knots.x[-1] - HOLD_DAYS)} "
            f"but the readings run from {_iso(float(t.min()))} to {_iso(last)}{need}: "
            f"provide the {name} over the whole window"
        )


def _iso(days: float) -> str:
    moment = np.datetime64(round(days * US_PER_DAY), "us")
    return str(np.datetime_as_string(moment, unit="m")) + "Z"


@functools.cache
def _lfilter() -> Callable[..., Any] | None:
    """The ``lfilter`` of scipy, imported on first use (scipy.signal takes a second to import)."""
    try:
        module = importlib.import_module("scipy.signal")
    except ImportError:  # pragma: no cover - scipy is optional
        return None
    lfilter: Callable[..., Any] = module.lfilter
    return lfilter


def _exponential_lag_numpy(x: FloatArray, tau: float) -> FloatArray:
    r"""The recursion of :func:`lagged_level` as a truncated convolution (numpy only).

    The filter's impulse response is :math:`(1-a) a^k`; it is cut where :math:`a^k < 10^{-17}`
    (below float64 rounding), and the series is extended into the past by its first value (the
    steady state the recursion starts from), so the result equals the recursion to rounding at
    a cost of :math:`O(n \tau)`.
    """
    a = math.exp(-1.0 / tau)
    length = max(1, math.ceil(math.log(1e-17) / math.log(a)) if a > 0 else 1)
    kernel = (1.0 - a) * a ** np.arange(length, dtype=np.float64)
    padded = np.concatenate((np.full(length - 1, x[0]), x))
    out: FloatArray = np.convolve(padded, kernel, mode="valid")
    return out


def _exponential_lag_scipy(x: FloatArray, tau: float, lfilter: Callable[..., Any]) -> FloatArray:
    a = math.exp(-1.0 / tau)
    y, _ = lfilter([1.0 - a], [1.0, -a], x, zi=[a * x[0]])
    return np.asarray(y, dtype=np.float64)


def lagged_level(
    level: DailySeries, times_us: IntArray, lag_days: float, *, use_scipy: bool = True
) -> FloatArray:
    r"""Exponentially lagged level at the given times (m).

    The level is sampled on a daily grid from its first time (linear interpolation over gaps)
    and passed through the first-order filter of time constant :math:`\tau` days (the response
    of a piezometer or seepage to the level, a linear reservoir):

    .. math::

        \tilde h_k = a\,\tilde h_{k-1} + (1 - a)\,h_k, \qquad a = e^{-1/\tau},
        \qquad \tilde h_0 = h_0,

    the exact discretisation of :math:`\tau\, d\tilde h/dt = h - \tilde h` for a level held
    over each day; the lagged series is then interpolated linearly at the reading times. The
    recursion runs in :func:`scipy.signal.lfilter` when scipy is installed, else as a truncated
    convolution in numpy (:func:`_exponential_lag_numpy`, equal to rounding).

    Parameters
    ----------
    level : DailySeries
        Reservoir level (m).
    times_us : int64 array
        Reading times, µs since 1970 UTC, inside the level series.
    lag_days : float
        Time constant :math:`\tau` (days); 0 gives the level itself.
    use_scipy : bool
        Use scipy when it is installed (False forces the numpy path).

    Returns
    -------
    float64 array
        Lagged level at each time (m).
    """
    knots = _knots(level, "level")
    t = np.asarray(times_us, dtype=np.int64).astype(np.float64) / US_PER_DAY
    _check_cover(knots, t, 0.0, "level")
    if lag_days <= 0:
        return np.interp(t, knots.x, knots.v)
    grid = knots.x[0] + np.arange(math.floor(knots.x[-1] - knots.x[0]) + 1, dtype=np.float64)
    daily = np.interp(grid, knots.x, knots.v)
    lfilter = _lfilter() if use_scipy else None
    if lfilter is not None:
        filtered = _exponential_lag_scipy(daily, lag_days, lfilter)
    else:
        filtered = _exponential_lag_numpy(daily, lag_days)
    return np.interp(t, grid, filtered)


def history_days(spec: ModelTerms) -> float:
    """Days of level (lagged means) or temperature (moving means) needed before a reading."""
    days = 0.0
    if spec.lagged_means and spec.kind != "seasonal":
        days = float(LAGGED_MEAN_WINDOWS[-1][1])
    if spec.kind == "htt":
        days = max(days, float(max(spec.temperature_windows)))
    if spec.rain_channel is not None and spec.rain_windows:
        days = max(days, float(spec.rain_windows[-1]))
    return days


def rain_spans(spec: ModelTerms) -> list[tuple[int, int]]:
    """The (first, last) days before a reading of each rainfall mean, from ``rain_windows``."""
    ends = list(spec.rain_windows)
    return list(zip([1] + [e + 1 for e in ends[:-1]], ends, strict=True))


# --------------------------------------------------------------------------------------------
# Design matrix


def _temperature_term(spec: ModelTerms, channel: str, window: int) -> str:
    if len(spec.temperature_channels) > 1:
        return f"{channel}_T{window}"
    return f"T{window}"


def design_matrix(
    spec: ModelTerms,
    times_us: IntArray,
    level: DailySeries | None,
    temperatures: Mapping[str, DailySeries] | None = None,
    *,
    reference_us: int,
    normalisation: Normalisation | None = None,
) -> Design:
    r"""The design matrix of a model at the given reading times.

    Columns, in order (term names in brackets, see the module docstring for the formula):
    constant (``a0``); hydrostatic (``H1`` .. ``Hd``, then ``L1_15``, ``L16_30``, ``L31_60``,
    ``L61_90`` when ``lagged_means``); seasonal (``sin1``, ``cos1``, ``sin2``, ``cos2``) or,
    for HTT, thermal (``T1``, ``T7``, ``T30`` per window, ``<channel>_T<w>`` when there are
    several temperature channels); time (``theta``, ``log``, ``exp`` as listed in
    ``spec.ageing``). ``kind="seasonal"`` has no hydrostatic columns.

    Parameters
    ----------
    spec : ModelTerms
        The model's settings from the site file.
    times_us : int64 array (n,)
        Reading times, µs since 1970-01-01 UTC.
    level : DailySeries or None
        Reservoir level (m); not needed for ``kind="seasonal"``.
    temperatures : mapping of channel name to DailySeries, optional
        Temperatures (°C) for HTT, keyed by ``spec.temperature_channels``.
    reference_us : int
        Origin of θ (µs since 1970 UTC).
    normalisation : Normalisation, optional
        Level range for :math:`H`; None computes it from the head at these times (a fit).

    Returns
    -------
    Design
        ``(matrix (n, p) float64, terms, groups, normalisation)``; unpacks as a tuple.

    Raises
    ------
    InvalidRequestError
        If the level or a temperature series does not cover the readings (with the history the
        lagged or moving means need), the level is constant over a fit window, or θ reaches -1
        (readings 100 days or more before the reference) with a ``log`` term.
    """
    times = np.asarray(times_us, dtype=np.int64)
    t = times.astype(np.float64) / US_PER_DAY
    columns: list[FloatArray] = [np.ones(times.size)]
    terms: list[str] = ["a0"]
    groups: list[str] = [CONSTANT]

    if spec.kind != "seasonal":
        if level is None:
            raise InvalidRequestError(f"an {spec.kind} model needs the reservoir level")
        head = lagged_level(level, times, spec.level_lag_days)
        if normalisation is None:
            normalisation = _normalisation(head)
        h = normalisation.apply(head)
        for i in range(1, spec.head_degree + 1):
            columns.append(h**i)
            terms.append(f"H{i}")
            groups.append(HYDROSTATIC)
        if spec.lagged_means:
            knots = _knots(level, "level")
            _check_cover(knots, t, float(LAGGED_MEAN_WINDOWS[-1][1]), "level")
            for first, last in LAGGED_MEAN_WINDOWS:
                columns.append(normalisation.apply(_window_mean(knots, t, first, last)))
                terms.append(f"L{first}_{last}")
                groups.append(HYDROSTATIC)

    if spec.kind == "htt":
        for channel in spec.temperature_channels:
            series = (temperatures or {}).get(channel)
            if series is None:
                raise InvalidRequestError(
                    f"the htt model needs the temperature series {channel!r}; "
                    f"given: {sorted(temperatures or {})}"
                )
            knots = _knots(series, f"temperature {channel!r}")
            _check_cover(knots, t, float(max(spec.temperature_windows)), f"temperature {channel!r}")
            for window in spec.temperature_windows:
                columns.append(_window_mean(knots, t, 1, window))
                terms.append(_temperature_term(spec, channel, window))
                groups.append(THERMAL)
    else:
        s = _day_of_year(times)
        for j in range(1, spec.harmonics + 1):
            angle = 2.0 * np.pi * j * s / YEAR_DAYS
            columns += [np.sin(angle), np.cos(angle)]
            terms += [f"sin{j}", f"cos{j}"]
            groups += [SEASONAL, SEASONAL]

    if spec.rain_channel is not None:
        series = (temperatures or {}).get(spec.rain_channel)
        if series is None:
            raise InvalidRequestError(f"the model needs the rainfall series {spec.rain_channel!r}")
        knots = _knots(series, f"rainfall {spec.rain_channel!r}")
        _check_cover(knots, t, float(spec.rain_windows[-1]), f"rainfall {spec.rain_channel!r}")
        for first, last in rain_spans(spec):
            columns.append(_window_mean(knots, t, first, last))
            terms.append(f"R{first}_{last}")
            groups.append(RAIN)

    theta = (times - reference_us).astype(np.float64) / US_PER_DAY / THETA_DAYS
    for term in spec.ageing:
        if term == "theta":
            columns.append(theta)
        elif term == "log":
            if theta.size and theta.min() <= -1.0:
                raise InvalidRequestError(
                    "ln(1+θ) is undefined for readings 100 days or more before the reference "
                    f"date {_iso(reference_us / US_PER_DAY)}: choose an earlier reference date"
                )
            columns.append(np.log1p(theta))
        else:
            columns.append(-np.expm1(-theta))
        terms.append(term)
        groups.append(TIME)

    matrix = np.column_stack(columns) if times.size else np.empty((0, len(columns)))
    return Design(matrix, tuple(terms), tuple(groups), normalisation)


def _normalisation(head: FloatArray) -> Normalisation:
    if head.size == 0:
        raise InvalidRequestError("no readings to fit")
    low, high = float(head.min()), float(head.max())
    if not high > low:
        raise InvalidRequestError(
            f"the level is constant ({low:g} m) over the fit window, so the hydrostatic terms "
            "cannot be estimated: fit over a longer window, or use kind 'seasonal'"
        )
    return Normalisation(low, high)


def _day_of_year(times_us: IntArray) -> FloatArray:
    """Days (fractional) since 1 January 00:00 UTC of each time's year."""
    moments = times_us.astype("datetime64[us]")
    year_start = moments.astype("datetime64[Y]").astype("datetime64[us]")
    days: FloatArray = (moments - year_start).astype(np.int64).astype(np.float64) / US_PER_DAY
    return days


# --------------------------------------------------------------------------------------------
# Fitted model


@dataclass(frozen=True, eq=False)
class FittedModel(Generic[SpecT_co]):
    r"""A model fitted to one channel: what it is, its coefficients and how well it fits.

    Attributes
    ----------
    spec : ModelTerms
        The settings it was built from (kind, head degree, harmonics, ageing, lags, ...): the
        object given to :func:`fit`, of the caller's settings class.
    terms : tuple of str
        Term names, one per coefficient (a subset of the spec's after :func:`stepwise`).
    groups : tuple of str
        Group of each term: ``constant``, ``hydrostatic``, ``seasonal``/``thermal``, ``time``.
    coefficients : float64 array
        In the channel's unit per unit of the term (H and θ are dimensionless, T in °C).
    r2 : float
        Coefficient of determination :math:`1 - SSR/SST` (NaN when the values are constant).
    sigma : float
        Residual standard deviation :math:`\sqrt{SSR / (n - p)}`, in the channel's unit.
    n : int
        Readings used.
    normalisation : Normalisation or None
        The level range of :math:`H` (None for ``kind="seasonal"``).
    reference_us : int
        Origin of θ, µs since 1970 UTC.
    window : (int, int)
        First and last time of the readings used, µs since 1970 UTC.
    """

    spec: SpecT_co
    terms: tuple[str, ...]
    groups: tuple[str, ...]
    coefficients: FloatArray
    r2: float
    sigma: float
    n: int
    normalisation: Normalisation | None
    reference_us: int
    window: tuple[int, int]

    @property
    def coefficient_map(self) -> dict[str, float]:
        """Coefficients by term name."""
        return {t: float(c) for t, c in zip(self.terms, self.coefficients, strict=True)}

    def to_json(self, spec_json: Callable[[SpecT_co], Mapping[str, Any]]) -> dict[str, Any]:
        """A plain dict (strings, numbers, lists) for storage; :meth:`from_json` reverses it.

        ``spec_json`` writes :attr:`spec` as a plain dict (the settings class knows how).
        """
        norm = self.normalisation
        return {
            "kind": self.spec.kind,
            "spec": dict(spec_json(self.spec)),
            "terms": list(self.terms),
            "groups": list(self.groups),
            "coefficients": self.coefficient_map,
            "r2": float(self.r2),
            "sigma": float(self.sigma),
            "n": int(self.n),
            "level_min": None if norm is None else norm.level_min,
            "level_max": None if norm is None else norm.level_max,
            "reference_us": int(self.reference_us),
            "window_start_us": int(self.window[0]),
            "window_end_us": int(self.window[1]),
        }

    @staticmethod
    def from_json(
        data: Mapping[str, Any], spec: Callable[[Mapping[str, Any]], SpecT]
    ) -> FittedModel[SpecT]:
        """The model stored by :meth:`to_json`; ``spec`` reads its settings back from a dict."""
        terms = tuple(str(t) for t in data["terms"])
        coefficients = data["coefficients"]
        level_min, level_max = data.get("level_min"), data.get("level_max")
        return FittedModel(
            spec=spec(data["spec"]),
            terms=terms,
            groups=tuple(str(g) for g in data["groups"]),
            coefficients=np.array([float(coefficients[t]) for t in terms], dtype=np.float64),
            r2=float(data["r2"]),
            sigma=float(data["sigma"]),
            n=int(data["n"]),
            normalisation=(
                None
                if level_min is None or level_max is None
                else Normalisation(float(level_min), float(level_max))
            ),
            reference_us=int(data["reference_us"]),
            window=(int(data["window_start_us"]), int(data["window_end_us"])),
        )


# --------------------------------------------------------------------------------------------
# Least squares


#: Channels solved together: a block of 10 years of daily readings is 64 x 3,653 x 8 B = 1.9 MB,
#: so that the passes over it after the first (residuals, sums of squares) run from the cache.
CHUNK_CHANNELS = 64
#: Smallest eigenvalue of :math:`Q_m^T Q_m` for the gap correction; below it, a QR of its own.
MIN_GAP_EIGENVALUE = 0.1


def _qr(x: FloatArray, terms: Sequence[str]) -> tuple[FloatArray, FloatArray]:
    """Reduced Householder QR of ``x``; refuses columns that are collinear with the others."""
    q, r = np.linalg.qr(x, mode="reduced")
    diag = np.abs(np.diag(r))
    tiny = diag <= 1e-10 * max(float(diag.max(initial=0.0)), 1e-300)
    if tiny.any():
        names = ", ".join(t for t, bad in zip(terms, tiny, strict=True) if bad)
        raise InvalidRequestError(
            f"the terms {names} are collinear with the others over the fit window "
            "(e.g. a level that barely moves, or too short a window): drop them from the model"
        )
    return q, r


class _Solution(NamedTuple):
    coefficients: FloatArray  # (k, p): one row per channel
    ssr: FloatArray  # (k,) sum of squared residuals
    sst: FloatArray  # (k,) sum of squared deviations from the mean
    counts: IntArray  # (k,) readings used


class _Basis(NamedTuple):
    """What every block of channels is solved with, from :math:`X = QR`."""

    q: FloatArray  # (n, p)
    q_ones: FloatArray  # (n, p + 1): Q, then a column of ones (each channel's sum)
    r: FloatArray  # (p, p), upper triangular
    xt: FloatArray  # (p, n), C-contiguous: a block's fitted values in one product
    identity: FloatArray  # (p, p)


def _least_squares(x: FloatArray, values: FloatArray, terms: Sequence[str]) -> _Solution:
    r"""Least squares of every column of ``values`` (NaN = not observed) on the rows it observed.

    With :math:`X = QR` (one QR for all channels) and :math:`y_0` the values with gaps set to
    0, a channel observed on rows :math:`m` has :math:`X_m \beta = Q_m \gamma`,
    :math:`\gamma = R\beta`, and

    .. math::

        (I - Q_d^T Q_d)\,\gamma = Q^T y_0, \qquad \beta = R^{-1}\gamma,

    :math:`Q_d` being the rows of :math:`Q` it misses (:math:`Q_m^T Q_m = I - Q_d^T Q_d`). The
    :math:`p \times p` system is that of a matrix with near-orthonormal columns (condition
    :math:`1/\lambda_{min}`, close to 1 for scattered gaps), so nothing of :math:`X^T X`'s
    squared condition enters; complete channels have :math:`Q_d = 0`. A channel whose gaps
    leave :math:`\lambda_{min} <` :data:`MIN_GAP_EIGENVALUE` (e.g. installed late, so that
    θ barely varies over its readings) gets a QR of its own rows instead, shared with the
    channels that miss exactly the same rows.

    Channels are solved in blocks of :data:`CHUNK_CHANNELS` with each channel's readings
    contiguous (a view of a column-major ``values``, such as a DataFrame's ``to_numpy()``; a
    row-major one is transposed block by block). One product :math:`y^T [Q\ 1]` per block gives
    every channel's :math:`Q^T y` and its sum, and a sum that is not finite marks a channel with
    gaps: complete channels (the many) are solved without any mask, and only the channels with
    gaps are filled, counted and corrected (:func:`_gappy_block`).
    """
    n, p = x.shape
    k = values.shape[1]
    q, r = _qr(x, terms)
    basis = _Basis(q, np.column_stack((q, np.ones(n))), r, np.ascontiguousarray(x.T), np.eye(p))
    coefficients = np.empty((k, p))
    ssr, sst = np.empty(k), np.empty(k)
    counts = np.full(k, n, dtype=np.int64)
    own_qr: list[IntArray] = []
    pending: list[tuple[IntArray, FloatArray]] = []  # channels with gaps, and their values
    pending_count = 0
    by_channel = values.T  # (k, n)
    for start in range(0, k, CHUNK_CHANNELS):
        block = slice(start, min(start + CHUNK_CHANNELS, k))
        y = np.ascontiguousarray(by_channel[block])
        # A channel with a gap comes out NaN here: _gappy_block does it again.
        with np.errstate(invalid="ignore", over="ignore"):
            projected = y @ basis.q_ones
            coefficients[block], ssr[block], sst[block] = _complete_block(
                y, projected[:, :p], projected[:, p] / n, basis
            )
        gappy = np.flatnonzero(~np.isfinite(projected[:, p]))
        if gappy.size:
            pending.append((start + gappy, y[gappy]))
            pending_count += gappy.size
        if pending and (pending_count >= CHUNK_CHANNELS or block.stop == k):
            # Channels with gaps are gathered into blocks of their own, few calls for many.
            rows = np.concatenate([r for r, _ in pending])
            solution = _gappy_block(np.concatenate([v for _, v in pending]), basis)
            coefficients[rows], ssr[rows], sst[rows], counts[rows] = solution[:4]
            own_qr.append(rows[solution.own_qr])
            pending, pending_count = [], 0
    _check_counts(counts, p)
    hard = np.concatenate(own_qr) if own_qr else np.empty(0, dtype=np.int64)
    if hard.size:
        observed = np.isfinite(values[:, hard])
        packed = np.packbits(observed, axis=0).T
        _, inverse = np.unique(packed, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        for group in range(int(inverse.max()) + 1):
            members = np.flatnonzero(inverse == group)
            cols, mask = hard[members], observed[:, members[0]]
            x_m, y_m = x[mask], values[np.ix_(mask, cols)]
            q_m, r_m = _qr(x_m, terms)
            coef = np.asarray(np.linalg.solve(r_m, q_m.T @ y_m), dtype=np.float64)
            residual = y_m - x_m @ coef
            coefficients[cols] = coef.T
            ssr[cols] = np.einsum("ij,ij->j", residual, residual)
    return _Solution(coefficients, ssr, sst, counts)


def _complete_block(
    y: FloatArray, gamma: FloatArray, means: FloatArray, basis: _Basis
) -> tuple[FloatArray, FloatArray, FloatArray]:
    r"""Coefficients, SSR and SST of channels ``y`` (b, n) observed on every row.

    :math:`\beta = R^{-1} Q^T y` (``gamma`` holds :math:`Q^T y` as rows); the residuals
    :math:`y - X\beta` are formed in one product and summed row by row.
    """
    # R is upper triangular: LU without row exchanges, i.e. back substitution.
    coef = np.asarray(np.linalg.solve(basis.r, gamma.T), dtype=np.float64).T
    work = coef @ basis.xt
    np.subtract(y, work, out=work)
    ssr = np.einsum("ij,ij->i", work, work)
    np.subtract(y, means[:, None], out=work)
    sst = np.einsum("ij,ij->i", work, work)
    return coef, ssr, sst


class _GappySolution(NamedTuple):
    coefficients: FloatArray  # (g, p)
    ssr: FloatArray
    sst: FloatArray
    counts: IntArray
    own_qr: IntArray  # which of the g channels need a QR of their own rows


def _gappy_block(y: FloatArray, basis: _Basis) -> _GappySolution:
    r"""Coefficients, SSR, SST and counts of channels ``y`` (g, n) with gaps.

    ``y`` is a copy, filled in place. This is the correction of :func:`_least_squares`,
    :math:`(I - Q_d^T Q_d)\gamma = Q^T y_0`; :math:`Q_d^T Q_d` is one small product per
    channel of the rows of :math:`Q` it misses, so that its cost follows the number of gaps,
    not of readings (a loop over the channels with gaps: a masked product over all rows, or
    a sum of outer products, cost several times more).
    """
    g, n = y.shape
    p = basis.r.shape[0]
    seen = np.isfinite(y)
    missing = ~seen
    np.copyto(y, 0.0, where=missing)
    counts = np.count_nonzero(seen, axis=1)
    projected = y @ basis.q_ones
    gamma, means = projected[:, :p], projected[:, p] / np.maximum(counts, 1)
    system = np.empty((g, p, p))
    for j in range(g):
        q_d = basis.q.take(np.flatnonzero(missing[j]), axis=0)
        np.subtract(basis.identity, q_d.T @ q_d, out=system[j])
    good = np.linalg.eigvalsh(system)[:, 0] >= MIN_GAP_EIGENVALUE
    if good.any():
        gamma[good] = np.linalg.solve(system[good], gamma[good][:, :, None])[:, :, 0]
    coef = np.asarray(np.linalg.solve(basis.r, gamma.T), dtype=np.float64).T
    work = coef @ basis.xt
    np.subtract(y, work, out=work)
    np.copyto(work, 0.0, where=missing)  # residuals, 0 where not observed
    ssr = np.einsum("ij,ij->i", work, work)
    np.subtract(y, means[:, None], out=work)
    np.copyto(work, 0.0, where=missing)
    sst = np.einsum("ij,ij->i", work, work)
    return _GappySolution(coef, ssr, sst, counts, np.flatnonzero(~good))


def _check_counts(counts: IntArray, p: int) -> None:
    least = MIN_READINGS_PER_TERM * p
    short = np.flatnonzero(counts < least)
    if short.size:
        listed = ", ".join(f"column {i}: {counts[i]}" for i in short[:10])
        raise InvalidRequestError(
            f"too few readings to fit {p} terms (at least {MIN_READINGS_PER_TERM} x {p} = "
            f"{least} needed; {listed}): fit over a longer window or use fewer terms"
        )


def _fit_design(
    spec: SpecT,
    design: Design,
    times: IntArray,
    values: FloatArray,
    reference_us: int,
    columns: NDArray[np.bool_] | None = None,
) -> list[FittedModel[SpecT]]:
    x, terms, groups = design.matrix, design.terms, design.groups
    if columns is not None:
        x = x[:, columns]
        terms = tuple(t for t, keep in zip(terms, columns, strict=True) if keep)
        groups = tuple(g for g, keep in zip(groups, columns, strict=True) if keep)
    p = x.shape[1]
    k = values.shape[1]
    if times.size < MIN_READINGS_PER_TERM * p:
        _check_counts(np.zeros(k, dtype=np.int64) + times.size, p)
    solution = _least_squares(x, values, terms)
    counts = solution.counts
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(solution.sst > 0, 1.0 - solution.ssr / solution.sst, np.nan)
    sigma = np.sqrt(solution.ssr / (counts - p))
    first = np.full(k, times.min(), dtype=np.int64)
    last = np.full(k, times.max(), dtype=np.int64)
    gappy = np.flatnonzero(counts < times.size)
    if gappy.size:
        observed = np.isfinite(values[:, gappy])
        first[gappy] = np.where(observed, times[:, None], np.iinfo(np.int64).max).min(axis=0)
        last[gappy] = np.where(observed, times[:, None], np.iinfo(np.int64).min).max(axis=0)
    # Python numbers in one pass each: indexing numpy scalars per model costs more than the fit.
    normalisation, reference = design.normalisation, int(reference_us)
    return [
        FittedModel(
            spec=spec,
            terms=terms,
            groups=groups,
            coefficients=coefficients,
            r2=r2_j,
            sigma=sigma_j,
            n=n_j,
            normalisation=normalisation,
            reference_us=reference,
            window=(first_j, last_j),
        )
        for coefficients, r2_j, sigma_j, n_j, first_j, last_j in zip(
            solution.coefficients,
            r2.tolist(),
            sigma.tolist(),
            counts.tolist(),
            first.tolist(),
            last.tolist(),
            strict=True,
        )
    ]


def _as_matrix(times_us: IntArray, values: FloatArray) -> tuple[IntArray, FloatArray]:
    times = np.asarray(times_us, dtype=np.int64)
    matrix = np.asarray(values, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    if times.ndim != 1 or matrix.shape[0] != times.size:
        raise InvalidRequestError(
            f"{times.size} times but {matrix.shape[0]} rows of values: give one row per time"
        )
    return times, matrix


def fit_many(
    spec: SpecT,
    times_us: IntArray,
    values: FloatArray,
    level: DailySeries | None,
    temperatures: Mapping[str, DailySeries] | None = None,
    *,
    reference_us: int,
) -> list[FittedModel[SpecT]]:
    r"""Fit one model to many channels read at the same times, all at once.

    The design matrix :math:`X` (see :func:`design_matrix`) is built once; the level range of
    :math:`H` is taken over all ``times_us``. One Householder QR, :math:`X = QR`, serves every
    channel: a complete channel has :math:`\hat\beta = R^{-1} Q^T y` (all of them in one
    matrix product), a channel with gaps solves a :math:`p \times p` correction for the rows
    it misses (:func:`_least_squares`), and a channel whose gaps take out much of the design
    (a long outage) gets a QR of its own rows, shared with the channels that miss the same
    rows. The normal equations :math:`X^T X` are never formed, so the accuracy is that of a QR
    solve (statsmodels OLS to about 1e-12 relative for the usual models).

    Parameters
    ----------
    spec : ModelTerms
        The model's settings.
    times_us : int64 array (n,)
        Reading times, µs since 1970 UTC.
    values : float64 array (n, k)
        One column per channel, in the channel's unit; NaN = not used (missing, flagged).
    level, temperatures
        As for :func:`design_matrix`.
    reference_us : int
        Origin of θ, µs since 1970 UTC.

    Returns
    -------
    list of FittedModel
        One per column of ``values``, in order.

    Raises
    ------
    InvalidRequestError
        If a channel has fewer than :math:`3p` readings (the message lists the columns), the
        terms are collinear, or the level or temperatures do not cover the readings.
    """
    times, matrix = _as_matrix(times_us, values)
    design = design_matrix(spec, times, level, temperatures, reference_us=reference_us)
    return _fit_design(spec, design, times, matrix, reference_us)


def fit(
    spec: SpecT,
    times_us: IntArray,
    values: FloatArray,
    level: DailySeries | None,
    temperatures: Mapping[str, DailySeries] | None = None,
    *,
    reference_us: int,
) -> FittedModel[SpecT]:
    """Fit the model to one channel (NaN values are left out); see :func:`fit_many`.

    The caller picks the readings of the fit window (``spec.fit_window_days``); every reading
    given is used, and the fitted model's ``window`` is the span of those with a value.
    """
    return fit_many(spec, times_us, values, level, temperatures, reference_us=reference_us)[0]


def stepwise(
    spec: SpecT,
    times_us: IntArray,
    values: FloatArray,
    level: DailySeries | None,
    temperatures: Mapping[str, DailySeries] | None = None,
    *,
    reference_us: int,
    f_in: float = 4.0,
    f_out: float = 3.9,
) -> FittedModel[SpecT]:
    r"""Fit one channel with the terms chosen by stepwise regression (F-tests).

    Starting from the constant alone, each step first adds the candidate term with the
    largest partial F statistic if it exceeds ``f_in``, then removes the included term with the
    smallest if it is below ``f_out``, until neither happens:

    .. math::

        F = \frac{SSR_{without} - SSR_{with}}{SSR_{with} / (n - p_{with})}

    This is the selection of the Chinese monitoring practice (逐步回归), with the spec's terms
    as candidates; ``f_out < f_in`` keeps it from cycling. The constant always stays.

    Returns
    -------
    FittedModel
        Fitted on the chosen terms; ``terms`` lists them in the design's order.
    """
    if f_out >= f_in:
        raise InvalidRequestError(f"f_out ({f_out}) must be below f_in ({f_in})")
    times, matrix = _as_matrix(times_us, values)
    if matrix.shape[1] != 1:
        raise InvalidRequestError("stepwise fits one channel at a time")
    design = design_matrix(spec, times, level, temperatures, reference_us=reference_us)
    mask = np.isfinite(matrix[:, 0])
    x, y = design.matrix[mask], matrix[mask, 0]
    n, p_all = x.shape
    chosen = np.zeros(p_all, dtype=bool)
    chosen[0] = True

    def ssr_of(columns: NDArray[np.bool_]) -> float:
        coef, *_ = np.linalg.lstsq(x[:, columns], y, rcond=None)
        residual = y - x[:, columns] @ coef
        return float(residual @ residual)

    current = ssr_of(chosen)
    for _ in range(4 * p_all):
        changed = False
        best_f, best_j, best_ssr = -np.inf, -1, current
        p_with = int(chosen.sum()) + 1
        for j in np.flatnonzero(~chosen):
            trial = chosen.copy()
            trial[j] = True
            trial_ssr = ssr_of(trial)
            f = (current - trial_ssr) / (trial_ssr / max(n - p_with, 1)) if trial_ssr > 0 else 0.0
            if f > best_f:
                best_f, best_j, best_ssr = f, int(j), trial_ssr
        if best_j >= 0 and best_f > f_in:
            chosen[best_j] = True
            current, changed = best_ssr, True
        worst_f, worst_j, worst_ssr = np.inf, -1, current
        p_with = int(chosen.sum())
        for j in np.flatnonzero(chosen)[1:]:
            trial = chosen.copy()
            trial[j] = False
            trial_ssr = ssr_of(trial)
            f = (trial_ssr - current) / (current / max(n - p_with, 1)) if current > 0 else np.inf
            if f < worst_f:
                worst_f, worst_j, worst_ssr = f, int(j), trial_ssr
        if worst_j >= 0 and worst_f < f_out:
            chosen[worst_j] = False
            current, changed = worst_ssr, True
        if not changed:
            break
    return _fit_design(spec, design, times, matrix, reference_us, columns=chosen)[0]


# --------------------------------------------------------------------------------------------
# Prediction, components, envelope


def components(
    model: FittedModel[ModelTerms],
    times_us: IntArray,
    level: DailySeries | None,
    temperatures: Mapping[str, DailySeries] | None = None,
) -> dict[str, FloatArray]:
    r"""The model's prediction at the given times and its split into effects.

    .. math::

        \hat y = \underbrace{a_0}_{constant} + \underbrace{\textstyle\sum a_i H^i
        + \sum \ell_m \bar H_m}_{hydrostatic} + \underbrace{\textstyle\sum (b_j \sin
        + c_j \cos)}_{seasonal\ (thermal)} + \underbrace{d_1\theta + \dots}_{time}

    using the stored level range and reference date. ``predicted`` is the sum of the parts.

    Returns
    -------
    dict of str to float64 array
        ``predicted``, ``constant``, ``hydrostatic`` (zeros for a seasonal model), ``seasonal``
        (``thermal`` for HTT) and ``time``, in the channel's unit.
    """
    design = design_matrix(
        model.spec,
        np.asarray(times_us, dtype=np.int64),
        level,
        temperatures,
        reference_us=model.reference_us,
        normalisation=model.normalisation,
    )
    index = {term: i for i, term in enumerate(design.terms)}
    missing = [t for t in model.terms if t not in index]
    if missing:
        raise InvalidRequestError(f"the model's terms {missing} are not in its spec's design")
    x = design.matrix[:, [index[t] for t in model.terms]]
    n = x.shape[0]
    seasonal_name = THERMAL if model.spec.kind == "htt" else SEASONAL
    out: dict[str, FloatArray] = {}
    names = (CONSTANT, HYDROSTATIC, seasonal_name, TIME) + ((RAIN,) if RAIN in model.groups else ())
    for name in names:
        cols = [i for i, g in enumerate(model.groups) if g == name]
        out[name] = x[:, cols] @ model.coefficients[cols] if cols else np.zeros(n)
    out["predicted"] = sum((out[name] for name in names[1:]), start=out[CONSTANT].copy())
    return out


def predict(
    model: FittedModel[ModelTerms],
    times_us: IntArray,
    level: DailySeries | None,
    temperatures: Mapping[str, DailySeries] | None = None,
) -> FloatArray:
    """The model's prediction at the given times (the channel's unit); see :func:`components`."""
    return components(model, times_us, level, temperatures)["predicted"]


def envelope_flags(
    residuals: FloatArray, sigma: float, warning_sigma: float, alarm_sigma: float
) -> NDArray[np.int8]:
    r"""Classify residuals against the model's envelope.

    .. math::

        flag = \begin{cases} 2 & |r| > k_{alarm}\,\sigma \\
                             1 & k_{warning}\,\sigma < |r| \le k_{alarm}\,\sigma \\
                             0 & \text{otherwise (and for NaN)} \end{cases}

    One reading at a time: requiring ``persistence`` consecutive exceedances before raising is
    the alarm layer's job.

    Parameters
    ----------
    residuals : float64 array
        Value minus prediction, in the channel's unit.
    sigma : float
        The model's residual standard deviation.
    warning_sigma, alarm_sigma : float
        Multiples of σ (usually 2 and 3).

    Returns
    -------
    int8 array
        0 inside, 1 warning, 2 alarm.
    """
    size = np.abs(np.asarray(residuals, dtype=np.float64))
    flags = np.zeros(size.shape, dtype=np.int8)
    flags[size > warning_sigma * sigma] = 1
    flags[size > alarm_sigma * sigma] = 2
    return flags

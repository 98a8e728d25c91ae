"""A SYNTHETIC, physically plausible monitoring history for a site (the Shimenzi demo).

Nothing here is measured: every value is made up by the formulas below, tuned so that the demo
looks and behaves like a reservoir in the Tianshan foothills (a cold, dry continental climate,
snowmelt and summer floods, irrigation from April to September). The generator is pure numpy:
numbers in, numbers out, no I/O and no database.

What is generated (hourly on one time grid, then sampled at each channel's interval):

* **Weather.** Air temperature = annual mean 6 °C + annual cycle (±16.5 °C, warmest on 20 July)
  + daily cycle (±5.5 °C, warmest at 17:00 local clock) + synoptic anomaly (an exponentially
  correlated process, σ 4.5 °C in winter and 2 °C in summer, skewed towards cold outbreaks)
  + noise: extremes near -35 and +35 °C, a range of 70 °C. Rain comes in events (Poisson starts,
  most in June-July; geometric durations, mean 4 h; gamma intensities), recorded in 0.2 mm tips.
* **Inflow** (m³/s) = base flow + snowmelt pulse (peak about 8 June, driven up by warm spells)
  + glacier and rain-season pulse (peak about 24 July) + rain floods (rain above 0 °C through a
  gamma unit hydrograph). Scaled so that the expected runoff is ``MEAN_ANNUAL_RUNOFF``
  (2.35e8 m³/yr), with a random factor per year.
* **Releases**: irrigation demand from 1 April to 30 September (``IRRIGATION_PER_YEAR``,
  1.8e8 m³/yr) + a constant ecological and water-supply release (``OTHER_RELEASE``).
* **Water balance.** Storage ``S(t) = S0 + Σ (I - O) Δt`` kept between the dead storage and an
  upper rule level (the normal pool, lowered to the flood-control level from June to August):
  water that would rise above the rule level is spilled (``SPILL``), demand that would draw the
  reservoir below the dead level is not delivered. Both are the discrete Skorokhod reflection of
  the cumulative net inflow, computed with ``np.maximum.accumulate``, so the outflow
  ``O = demand - shortage + spill`` and the storage are consistent to rounding. The level is
  ``np.interp`` of the storage on the site's stage-storage table. One year of spin-up before the
  window sets the initial storage.
* **Dam response**, each from the standard HST (hydrostatic-seasonal-time) picture:
  concrete temperature = mean + annual wave damped ``exp(-x/d)`` and lagged ``x/d`` radians at
  depth ``x`` below the downstream face (``d = sqrt(κ P / π)``, κ = 0.0035 m²/h; Carslaw & Jaeger's
  periodic surface temperature solution), plus the daily and synoptic waves damped the same way;
  plumb-line displacement = cubic in head + lagged seasonal thermal term + ``a ln(1 + θ)`` creep;
  piezometric head = tailwater + a fraction (falling from heel to toe) of the lagged reservoir
  head; seepage rising with level and with recent rain, slowly decreasing (drains silting);
  joints opening when the concrete is cold; strains from arch compression, temperature and
  shrinkage; crest settlement ``a (1 - exp(-t/τ))`` with a small seasonal swing.

Values are clipped to each channel's limits, then the faults in :class:`InjectedFault` are
injected (a spike, a stuck sensor, a gap and a drift), so a demo of anomaly detection has
something known to find.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from shuian.site.model import Channel, Instrument, Site

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Mean annual runoff at the dam, m³/yr (published figure for Shimenzi).
MEAN_ANNUAL_RUNOFF = 2.35e8
#: Mean annual irrigation demand, m³/yr (published figure for Shimenzi).
IRRIGATION_PER_YEAR = 1.8e8
#: Ecological flow plus town water supply, released all year, m³/s.
OTHER_RELEASE = 1.15
#: Days of spin-up simulated before the window (sets the initial storage and filter states).
SPINUP_DAYS = 365
#: First impoundment of the reservoir (reference of the creep term).
IMPOUNDMENT = dt.date(2000, 10, 1)

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
YEAR_DAYS = 365.2425
SECONDS_PER_YEAR = YEAR_DAYS * 86400.0
_DT_S = 3600.0
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DAYS_TO_2000 = 10957.0  # 1970-01-01 to 2000-01-01
#: Monday 1970-01-05 10:00 (local clock): the anchor of daily and weekly manual readings.
_MANUAL_ANCHOR_US = 4 * DAY_US + 10 * HOUR_US

# --- weather -------------------------------------------------------------------------------
AIR_MEAN = 6.0  # °C
AIR_ANNUAL_AMPLITUDE = 16.5  # °C
AIR_WARMEST_DOY = 201.0  # 20 July
AIR_DAILY_AMPLITUDE = 5.5  # °C
AIR_WARMEST_HOUR = 17.0  # local clock
RAIN_MEAN_DURATION_H = 4.0
RAIN_INTENSITY_SHAPE, RAIN_INTENSITY_SCALE = 0.7, 3.0  # gamma, mm/h per event
RAIN_TIP_MM = 0.2
RAIN_CAP_MM_H = 50.0

# --- hydrology -----------------------------------------------------------------------------
BASE_FLOW = 2.0  # m³/s
SNOWMELT_PEAK_DOY, SNOWMELT_WIDTH_D = 159.0, 20.0
SUMMER_PEAK_DOY, SUMMER_WIDTH_D = 205.0, 28.0
SNOWMELT_SHARE = 0.55  # of the runoff that is neither base flow nor rain flood
RAIN_RUNOFF_AREA_M2 = 6.0e7  # contributing area x runoff coefficient
UNIT_HYDROGRAPH_PEAK_H = 8.0
YEAR_FACTOR_SIGMA = 0.12
IRRIGATION_SHAPE_POWER = 0.6  # demand ~ sin(π x)^0.6 from 1 April to 30 September
IRRIGATION_DAYS = 183

# --- concrete ------------------------------------------------------------------------------
DIFFUSIVITY_M2_H = 0.0035  # κ, thermal diffusivity of concrete


@dataclass(frozen=True)
class InjectedFault:
    """A fault injected into one channel of a synthetic history.

    Attributes
    ----------
    channel : str
        Channel code.
    kind : {"spike", "stuck", "gap", "drift"}
        ``spike``: one reading offset; ``stuck``: the value frozen; ``gap``: no readings;
        ``drift``: a linearly growing offset.
    start, end : datetime.datetime
        First and last affected reading time (inclusive, UTC); equal for a spike.
    description : str
        What was done, with its size and unit.
    """

    channel: str
    kind: Literal["spike", "stuck", "gap", "drift"]
    start: dt.datetime
    end: dt.datetime
    description: str


@dataclass(frozen=True)
class SyntheticHistory:
    """A synthetic history: readings of every channel of a site, and the faults injected.

    Attributes
    ----------
    series : dict of str to (numpy.ndarray, numpy.ndarray)
        Channel code -> (times, values). Times are int64 microseconds since the Unix epoch, UTC,
        increasing; values are float64 engineering values in the channel's unit (after the
        channel's conversion, so no raw readings).
    faults : tuple of InjectedFault
        The faults injected into ``series``.
    """

    series: dict[str, tuple[IntArray, FloatArray]]
    faults: tuple[InjectedFault, ...]

    def yearly_volume(self, channel: str) -> float:
        """Mean yearly volume of a flow channel.

        Parameters
        ----------
        channel : str
            Code of a channel in m³/s (``INFLOW``, ``OUTFLOW``, ``IRRIGATION``, ``SPILL`` in the
            demo site).

        Returns
        -------
        float
            Mean flow times the seconds in a year (365.2425 days), m³/yr.
        """
        _, values = self.series[channel]
        return float(np.mean(values)) * SECONDS_PER_YEAR


@dataclass(frozen=True)
class _Drivers:
    """Site-wide hourly series on the extended grid (spin-up + window)."""

    t_us: IntArray
    days: FloatArray  # days since the Unix epoch
    doy: FloatArray  # day of the year, 0 .. 365.24
    local_hour: FloatArray
    air: FloatArray  # °C
    air_anomaly: FloatArray  # °C, synoptic part
    rain: FloatArray  # mm in the hour
    inflow: FloatArray  # m³/s
    outflow: FloatArray
    irrigation: FloatArray
    spill: FloatArray
    storage: FloatArray  # m³
    level: FloatArray  # m
    tailwater: FloatArray  # m
    foundation: float  # m
    height: float  # m
    crest_length: float  # m
    base_width: float  # m
    crest_width: float  # m


def generate_history(
    site: Site,
    *,
    end: dt.datetime,
    days: int = 1095,
    seed: int = 20001001,
    faults: bool = True,
) -> SyntheticHistory:
    """Generate a synthetic history of every channel of ``site``.

    Parameters
    ----------
    site : Site
        The site; its levels, stage-storage table, dam dimensions and instrument positions
        shape the series. Each instrument type has its own physics (see the module docstring).
    end : datetime.datetime
        End of the history, timezone-aware; floored to the whole hour (UTC).
    days : int, default 1095
        Length of the history, days (>= 1).
    seed : int, default 20001001
        Random seed; the same seed gives the same arrays.
    faults : bool, default True
        Inject the faults (spike, stuck, gap, drift); ``False`` gives the clean history, value
        for value the same as the faulty one outside the faults.

    Returns
    -------
    SyntheticHistory
        Hourly readings for automatic channels (``interval`` 3600 s) and readings at 10:00 local
        time every ``interval`` for manual ones (weekly: Mondays), in engineering units.

    Raises
    ------
    ValueError
        ``end`` is naive, ``days`` < 1, a channel interval is not a whole number of hours, or a
        channel has a quantity the generator does not know.

    Notes
    -----
    Fault placement depends only on ``seed`` and ``days``: a spike (+8 m) on a piezometer
    (``days`` >= 2), a 5-day gap on a strain gauge (>= 15), a 10-day stuck joint meter (>= 30),
    and a +0.02 °C/day drift on a thermometer over the last min(120, 0.4 ``days``) days (>= 60).
    """
    if end.tzinfo is None or end.utcoffset() is None:
        raise ValueError("end must be timezone-aware, e.g. datetime(2024, 1, 1, tzinfo=UTC)")
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    end_us = _to_us(end) // HOUR_US * HOUR_US
    n_window = days * 24
    n_total = n_window + SPINUP_DAYS * 24
    t_us = end_us - HOUR_US * np.arange(n_total - 1, -1, -1, dtype=np.int64)
    zone_offset_us = _zone_offset_us(site, end)
    drivers = _drivers(site, t_us, zone_offset_us, np.random.default_rng([seed, 0]))

    window = slice(n_total - n_window, n_total)
    series: dict[str, tuple[IntArray, FloatArray]] = {}
    for instrument in site.instruments:
        if instrument.type == "camera":
            continue  # its readings come from its frames (services.demo)
        for channel in instrument.channels:
            rng = np.random.default_rng([seed, zlib.crc32(channel.code.encode())])
            hourly = _channel_values(instrument, channel, drivers, rng)[window]
            lo = -np.inf if channel.limits.min is None else channel.limits.min
            hi = np.inf if channel.limits.max is None else channel.limits.max
            hourly = np.clip(hourly, lo, hi)
            take = _reading_mask(instrument, channel, t_us[window], zone_offset_us)
            series[channel.code] = (t_us[window][take].copy(), hourly[take].copy())
    injected: tuple[InjectedFault, ...] = ()
    if faults:
        injected = _inject_faults(site, series, days, np.random.default_rng([seed, 1]))
    return SyntheticHistory(series=series, faults=injected)


# --- time ----------------------------------------------------------------------------------


def _to_us(moment: dt.datetime) -> int:
    delta = moment.astimezone(dt.UTC) - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(us: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=us)


def _zone_offset_us(site: Site, moment: dt.datetime) -> int:
    """UTC offset of the site's zone at ``moment`` (no DST in Asia/Shanghai), microseconds."""
    offset = moment.astimezone(ZoneInfo(site.reservoir.timezone)).utcoffset()
    return 0 if offset is None else int(offset / dt.timedelta(microseconds=1))


def _reading_mask(
    instrument: Instrument, channel: Channel, t_us: IntArray, zone_offset_us: int
) -> NDArray[np.bool_]:
    interval = _interval(instrument, channel)
    interval_us = round(interval * 1e6)
    if interval_us % HOUR_US:
        raise ValueError(
            f"channel {channel.code}: interval {interval} s is not a whole number of hours; "
            "the synthetic generator works on an hourly grid"
        )
    if interval_us == HOUR_US:
        return np.ones(t_us.shape, dtype=np.bool_)
    phase = (t_us + zone_offset_us - _MANUAL_ANCHOR_US) % interval_us
    return np.asarray(phase == 0, dtype=np.bool_)


# --- signal helpers ------------------------------------------------------------------------


def _causal_convolve(x: FloatArray, kernel: FloatArray) -> FloatArray:
    """``y[i] = Σ_j kernel[j] x[i - j]`` (x = 0 before the start), by FFT."""
    n = x.size + kernel.size - 1
    nfft = 1 << max(1, (n - 1).bit_length())
    y = np.fft.irfft(np.fft.rfft(x, nfft) * np.fft.rfft(kernel, nfft), nfft)[: x.size]
    return np.asarray(y, dtype=np.float64)


def _exp_filter(x: FloatArray, tau: float) -> FloatArray:
    """First-order low-pass (exponential memory), unit gain, time constant ``tau`` samples.

    The series is assumed steady at its first value before the start.
    """
    if tau <= 0.0:
        return x.copy()
    a = np.exp(-1.0 / tau)
    kernel = a ** np.arange(min(x.size, int(np.ceil(12.0 * tau)) + 1), dtype=np.float64)
    kernel /= kernel.sum()
    return np.asarray(_causal_convolve(x - x[0], kernel) + x[0], dtype=np.float64)


def _unit_noise(rng: np.random.Generator, n: int, tau: float) -> FloatArray:
    """Exponentially correlated Gaussian noise, unit standard deviation, ``tau`` samples."""
    warm = int(min(6.0 * tau, 10 * n)) + 1
    z = rng.standard_normal(n + warm)
    y = _exp_filter(z, tau)[warm:]
    return np.asarray((y - y.mean()) / (y.std() + 1e-12), dtype=np.float64)


def _annual_wave(doy: FloatArray, lag_rad: float = 0.0) -> FloatArray:
    """Return a unit annual cosine, highest on the warmest day of the year + ``lag_rad``."""
    return np.cos(2.0 * np.pi * (doy - AIR_WARMEST_DOY) / YEAR_DAYS - lag_rad)


def _gauss(doy: FloatArray, peak: float, width: float) -> FloatArray:
    d = (doy - peak + YEAR_DAYS / 2.0) % YEAR_DAYS - YEAR_DAYS / 2.0
    return np.exp(-0.5 * (d / width) ** 2)


def _rain_event_rate(doy: FloatArray) -> FloatArray:
    """Rain events per day, by day of the year (most in June-July)."""
    return 0.05 + 0.35 * _gauss(doy, 190.0, 40.0)


def _irrigation_shape(t_local_us: IntArray) -> FloatArray:
    """Irrigation demand shape, 0 .. 1: ``sin(π x)^0.6`` from 1 April (x = 0) to 1 October."""
    year = t_local_us.astype("datetime64[us]").astype("datetime64[Y]").astype("datetime64[M]")
    april = (year + np.timedelta64(3, "M")).astype("datetime64[us]").astype(np.int64)
    october = (year + np.timedelta64(9, "M")).astype("datetime64[us]").astype(np.int64)
    x = (t_local_us - april) / (october - april)
    inside = (x > 0.0) & (x < 1.0)
    return np.where(inside, np.sin(np.pi * np.clip(x, 0.0, 1.0)) ** IRRIGATION_SHAPE_POWER, 0.0)


def _flood_season(doy: FloatArray) -> FloatArray:
    """1 from 1 June to 31 August, 0 outside, with 15-day ramps (drawdown and refill)."""
    return np.interp(doy, [0.0, 137.0, 152.0, 243.0, 258.0, 366.0], [0, 0, 1, 1, 0, 0])


# --- site-wide drivers ---------------------------------------------------------------------


def _drivers(site: Site, t_us: IntArray, zone_offset_us: int, rng: np.random.Generator) -> _Drivers:
    n = t_us.size
    days = t_us / DAY_US
    doy = (days - _DAYS_TO_2000) % YEAR_DAYS
    local_hour = ((t_us + zone_offset_us) % DAY_US) / HOUR_US

    # Air temperature, °C.
    sigma = 3.4 + 1.2 * -_annual_wave(doy)
    z = _unit_noise(rng, n, 60.0)
    z = np.clip(z, -4.0, 4.0)
    z = z - 0.12 * np.maximum(-z, 0.0) ** 2 * (sigma > 3.4)  # cold outbreaks in winter
    anomaly = sigma * z
    daily = AIR_DAILY_AMPLITUDE * np.cos(2.0 * np.pi * (local_hour - AIR_WARMEST_HOUR) / 24.0)
    air = (
        AIR_MEAN
        + AIR_ANNUAL_AMPLITUDE * _annual_wave(doy)
        + daily
        + anomaly
        + 0.4 * rng.standard_normal(n)
    )

    rain = _rain(rng, doy)

    # Inflow, m³/s.
    year = np.floor((days - _DAYS_TO_2000) / YEAR_DAYS).astype(np.int64)
    years, year_index = np.unique(year, return_inverse=True)
    factors = np.exp(
        YEAR_FACTOR_SIGMA * rng.standard_normal(years.size) - YEAR_FACTOR_SIGMA**2 / 2.0
    )[year_index]
    clim = np.arange(0.0, 365.0, 0.25)
    rain_days = AIR_MEAN + AIR_ANNUAL_AMPLITUDE * _annual_wave(clim) > 0.0
    expected_rain_mm = float(
        np.sum(_rain_event_rate(clim) * rain_days)
        * 0.25
        * RAIN_MEAN_DURATION_H
        * RAIN_INTENSITY_SHAPE
        * RAIN_INTENSITY_SCALE
    )
    pulses = (
        MEAN_ANNUAL_RUNOFF
        - BASE_FLOW * SECONDS_PER_YEAR
        - expected_rain_mm * 1e-3 * RAIN_RUNOFF_AREA_M2
    )
    width_s = np.sqrt(2.0 * np.pi) * 86400.0
    snow_peak = SNOWMELT_SHARE * pulses / (SNOWMELT_WIDTH_D * width_s)
    summer_peak = (1.0 - SNOWMELT_SHARE) * pulses / (SUMMER_WIDTH_D * width_s)
    melt_boost = np.clip(1.0 + 0.06 * anomaly, 0.3, 2.0)
    melt_daily = 1.0 + 0.2 * np.cos(2.0 * np.pi * (local_hour - 21.0) / 24.0)
    uh_t = np.arange(0.0, 24.0 * UNIT_HYDROGRAPH_PEAK_H)
    uh = uh_t * np.exp(-uh_t / UNIT_HYDROGRAPH_PEAK_H)
    uh /= uh.sum()
    rain_flood = _causal_convolve(rain * (air > 0.0), uh) * 1e-3 * RAIN_RUNOFF_AREA_M2 / _DT_S
    inflow = (
        BASE_FLOW * (1.0 + 0.08 * _unit_noise(rng, n, 24.0 * 20.0))
        + factors
        * snow_peak
        * _gauss(doy, SNOWMELT_PEAK_DOY, SNOWMELT_WIDTH_D)
        * melt_boost
        * melt_daily
        + factors * summer_peak * _gauss(doy, SUMMER_PEAK_DOY, SUMMER_WIDTH_D)
        + np.maximum(rain_flood, 0.0)
    )

    # Demand, m³/s.
    shape = _irrigation_shape(t_us + zone_offset_us)
    x = np.linspace(0.0, 1.0, 100001)
    mean_shape = float(np.mean(np.sin(np.pi * x) ** IRRIGATION_SHAPE_POWER))
    irrigation_peak = IRRIGATION_PER_YEAR / (mean_shape * IRRIGATION_DAYS * 86400.0)
    irrigation_demand = irrigation_peak * shape * (1.0 + 0.05 * _unit_noise(rng, n, 24.0 * 7))
    demand = irrigation_demand + OTHER_RELEASE

    # Water balance.
    res = site.reservoir
    levels = np.array([row.level for row in res.storage_curve])
    volumes = np.array([row.storage for row in res.storage_curve])
    s_low = float(np.interp(res.levels.dead, levels, volumes))
    s_normal = float(np.interp(res.levels.normal, levels, volumes))
    s_flood = float(np.interp(res.levels.flood_control, levels, volumes))
    s_high = s_normal + (min(s_flood, s_normal) - s_normal) * _flood_season(doy)
    s0 = 0.5 * (s_low + s_normal)
    shortage, spill = _reflect(s0 + np.cumsum((inflow - demand) * _DT_S), s_low, s_high)
    shortage_rate = np.diff(shortage, prepend=0.0) / _DT_S
    spill_rate = np.diff(spill, prepend=0.0) / _DT_S
    irrigation = np.maximum(irrigation_demand - shortage_rate, 0.0)
    outflow = np.maximum(demand - shortage_rate, 0.0) + spill_rate
    storage = s0 + np.cumsum((inflow - outflow) * _DT_S)
    level = np.interp(storage, volumes, levels)

    dam = site.dam
    foundation = dam.crest_elevation - dam.height
    tailwater = foundation + 3.0 + 0.42 * np.sqrt(outflow)
    return _Drivers(
        t_us=t_us,
        days=days,
        doy=doy,
        local_hour=local_hour,
        air=air,
        air_anomaly=anomaly,
        rain=rain,
        inflow=inflow,
        outflow=outflow,
        irrigation=irrigation,
        spill=spill_rate,
        storage=storage,
        level=level,
        tailwater=tailwater,
        foundation=foundation,
        height=dam.height,
        crest_length=dam.crest_length,
        base_width=dam.base_width or 0.3 * dam.height,
        crest_width=dam.crest_width or 0.05 * dam.height,
    )


def _rain(rng: np.random.Generator, doy: FloatArray) -> FloatArray:
    """Hourly rain (mm) from events: Poisson starts, geometric durations, gamma intensities."""
    n = doy.size
    starts = np.flatnonzero(rng.random(n) < _rain_event_rate(doy) / 24.0)
    durations = rng.geometric(1.0 / RAIN_MEAN_DURATION_H, size=starts.size)
    means = rng.gamma(RAIN_INTENSITY_SHAPE, RAIN_INTENSITY_SCALE, size=starts.size)
    total = int(durations.sum())
    first = np.cumsum(durations) - durations
    index = np.repeat(starts, durations) + np.arange(total) - np.repeat(first, durations)
    amount = np.repeat(means, durations) * rng.gamma(2.0, 0.5, size=total)
    keep = index < n
    rain = np.zeros(n)
    np.add.at(rain, index[keep], amount[keep])
    return np.asarray(
        np.round(np.minimum(rain, RAIN_CAP_MM_H) / RAIN_TIP_MM) * RAIN_TIP_MM, dtype=np.float64
    )


def _reflect(
    x: FloatArray, low: float, high: FloatArray, max_passes: int = 1000
) -> tuple[FloatArray, FloatArray]:
    """Keep the path ``x`` between ``low`` and ``high`` by the least cumulative adjustments.

    Returns the cumulative shortage (added) and spill (removed), both non-decreasing, such that
    ``low <= x + shortage - spill <= high`` and each grows only when its bound is reached (the
    discrete two-sided Skorokhod problem), by alternating one-sided reflections until they stop
    changing (one pass per alternation between the bounds).
    """
    shortage = np.zeros_like(x)
    spill = np.zeros_like(x)
    for _ in range(max_passes):
        new_shortage = np.maximum.accumulate(np.maximum(low - (x - spill), 0.0))
        new_spill = np.maximum.accumulate(np.maximum(x + new_shortage - high, 0.0))
        done = np.array_equal(new_shortage, shortage) and np.array_equal(new_spill, spill)
        shortage, spill = new_shortage, new_spill
        if done:
            break
    return shortage, spill


# --- instruments ---------------------------------------------------------------------------


def _channel_values(
    instrument: Instrument, channel: Channel, d: _Drivers, rng: np.random.Generator
) -> FloatArray:
    """Hourly engineering values of one channel on the extended grid."""
    maker = _MAKERS.get(instrument.type)
    if maker is None:  # pragma: no cover - every InstrumentType has a maker
        raise ValueError(f"instrument {instrument.code}: no synthetic model for {instrument.type}")
    return maker(instrument, channel, d, rng)


def _unknown(instrument: Instrument, channel: Channel) -> ValueError:
    return ValueError(
        f"channel {channel.code} of {instrument.type} {instrument.code}: the synthetic generator "
        f"does not know the quantity {channel.quantity!r}"
    )


def _water_level(i: Instrument, c: Channel, d: _Drivers, rng: np.random.Generator) -> FloatArray:
    if "tail" in c.quantity or (i.offset is not None and i.offset > 0):
        return d.tailwater + 0.01 * rng.standard_normal(d.level.size)
    return np.round(d.level, 3)  # a radar gauge reports mm: a level held at a rule level is on it


def _rainfall(i: Instrument, c: Channel, d: _Drivers, rng: np.random.Generator) -> FloatArray:
    return d.rain.copy()


def _air(i: Instrument, c: Channel, d: _Drivers, rng: np.random.Generator) -> FloatArray:
    return d.air.copy()


def _discharge(i: Instrument, c: Channel, d: _Drivers, rng: np.random.Generator) -> FloatArray:
    by_quantity = {
        "inflow": d.inflow,
        "outflow": d.outflow,
        "irrigation_release": d.irrigation,
        "spill": d.spill,
    }
    if c.quantity not in by_quantity:
        raise _unknown(i, c)
    return by_quantity[c.quantity].copy()


def _thickness(d: _Drivers, elevation: float | None) -> float:
    """Dam thickness at ``elevation`` (m), linear from base width to crest width."""
    eta = _height_fraction(d, elevation)
    return d.base_width + (d.crest_width - d.base_width) * eta


def _height_fraction(d: _Drivers, elevation: float | None) -> float:
    z = d.foundation + 0.5 * d.height if elevation is None else elevation
    return float(np.clip((z - d.foundation) / d.height, 0.0, 1.0))


def _head(d: _Drivers) -> FloatArray:
    """Normalised water head above the foundation, 0 .. 1."""
    return np.asarray((d.level - d.foundation) / d.height, dtype=np.float64)


def _years_since(d: _Drivers, start: dt.date | None) -> FloatArray:
    origin = _DAYS_TO_2000 + ((start or IMPOUNDMENT) - dt.date(2000, 1, 1)).days
    return np.asarray(np.maximum(d.days - origin, 0.0) / YEAR_DAYS, dtype=np.float64)


def _concrete_temperature(d: _Drivers, depth: float) -> FloatArray:
    """Concrete temperature (°C) at ``depth`` m below a face exposed to the air.

    Each harmonic of the surface temperature of period ``P`` is damped by ``exp(-x/δ)`` and
    delayed by ``x/δ`` radians, ``δ = sqrt(κ P / π)`` (Carslaw & Jaeger, *Conduction of Heat in
    Solids*, §2.6); the synoptic anomaly is low-passed with the diffusion time ``x² / κ``.
    """
    x = max(depth, 0.0)
    hours_per_year = YEAR_DAYS * 24.0
    annual_d = np.sqrt(DIFFUSIVITY_M2_H * hours_per_year / np.pi)
    daily_d = np.sqrt(DIFFUSIVITY_M2_H * 24.0 / np.pi)
    synoptic_d = np.sqrt(DIFFUSIVITY_M2_H * 24.0 * 10.0 / np.pi)
    mean = AIR_MEAN + 2.5 + 1.0 * (1.0 - np.exp(-x / 4.0))  # sun on the face, heat of the water
    annual = 0.9 * AIR_ANNUAL_AMPLITUDE * np.exp(-x / annual_d) * _annual_wave(d.doy, x / annual_d)
    daily = (
        AIR_DAILY_AMPLITUDE
        * np.exp(-x / daily_d)
        * np.cos(2.0 * np.pi * (d.local_hour - AIR_WARMEST_HOUR) / 24.0 - x / daily_d)
    )
    synoptic = np.exp(-x / synoptic_d) * _exp_filter(
        d.air_anomaly, max(6.0, x * x / DIFFUSIVITY_M2_H)
    )
    return np.asarray(mean + annual + daily + synoptic, dtype=np.float64)


def _thermometer(i: Instrument, c: Channel, d: _Drivers, rng: np.random.Generator) -> FloatArray:
    depth = 1.0 if i.offset is None else _thickness(d, i.elevation) / 2.0 - i.offset
    value = _concrete_temperature(d, depth)
    return value + 0.03 * rng.standard_normal(value.size)


def _hydrostatic(head: FloatArray) -> FloatArray:
    """Cubic hydrostatic shape, 0 at an empty reservoir, about 1 at a full one."""
    return np.asarray(0.2 * head + 0.3 * head**2 + 0.5 * head**3, dtype=np.float64)


def _plumb_line(i: Instrument, c: Channel, d: _Drivers, rng: np.random.Generator) -> FloatArray:
    eta = _height_fraction(d, i.elevation)
    xi = 0.0 if i.chainage is None else (i.chainage - d.crest_length / 2) / (d.crest_length / 2)
    xi = float(np.clip(xi, -1.0, 1.0))
    scale = eta**1.6 * np.cos(np.pi * xi / 2.0) ** 0.8 * rng.uniform(0.9, 1.1)
    hydro = 25.0 * (_hydrostatic(_head(d)) - _hydrostatic(np.array([0.6]))[0])
    thermal = -4.5 * _annual_wave(d.doy, 0.8)  # a cold dam bends downstream
    creep = 1.2 * np.log1p(_years_since(d, IMPOUNDMENT) * YEAR_DAYS / 100.0)
    noise = (0.15 if i.manual else 0.05) * rng.standard_normal(d.doy.size)
    if "radial" in c.quantity:
        return np.asarray(scale * (hydro + thermal + creep) + noise, dtype=np.float64)
    if "tangential" in c.quantity:
        tangential = eta**1.6 * (0.25 * xi * hydro + 0.3 * xi * thermal + 0.03 * hydro)
        return np.asarray(tangential + noise, dtype=np.float64)
    raise _unknown(i, c)


def _piezometer(i: Instrument, c: Channel, d: _Drivers, rng: np.random.Generator) -> FloatArray:
    position = 0.5 if i.offset is None else (i.offset + d.base_width / 2.0) / d.base_width
    p = float(np.clip(position, 0.0, 1.0))
    fraction = (0.05 + 0.55 * (1.0 - p) ** 1.5) * rng.uniform(0.92, 1.08)
    lag_hours = 24.0 * (1.0 + 12.0 * p)
    level = _exp_filter(d.level, lag_hours)
    tail = _exp_filter(d.tailwater, 24.0)
    rain = _exp_filter(d.rain, 24.0 * 7.0) * 24.0  # mm/day
    head = tail + fraction * (level - tail) + 0.05 * (1.0 - p) * rain
    return np.asarray(head + 0.03 * rng.standard_normal(head.size), dtype=np.float64)


def _joint_meter(i: Instrument, c: Channel, d: _Drivers, rng: np.random.Generator) -> FloatArray:
    block = _concrete_temperature(d, _thickness(d, i.elevation) / 4.0)
    coefficient = 0.15 * rng.uniform(0.8, 1.2)  # mm/°C
    opening = (
        0.8
        + coefficient * (AIR_MEAN + 3.0 - block)
        - 0.5 * (_head(d) - 0.8)
        + 0.1 * np.log1p(_years_since(d, i.installed) * 3.0)
    )
    return opening + 0.01 * rng.standard_normal(opening.size)


def _strain_gauge(i: Instrument, c: Channel, d: _Drivers, rng: np.random.Generator) -> FloatArray:
    thickness = _thickness(d, i.elevation)
    offset = 0.0 if i.offset is None else i.offset
    depth = max(0.5, thickness / 2.0 - abs(offset))
    local = _concrete_temperature(d, depth)
    arch = -(140.0 if offset < 0 else 70.0) * _head(d) ** 2  # compression under load
    thermal = 6.0 * (local - AIR_MEAN - 3.0)
    shrinkage = -70.0 * rng.uniform(0.8, 1.2) * (1.0 - np.exp(-_years_since(d, i.installed) * 1.5))
    strain = arch + thermal + shrinkage
    return strain + 1.5 * rng.standard_normal(strain.size)


def _seepage_weir(i: Instrument, c: Channel, d: _Drivers, rng: np.random.Generator) -> FloatArray:
    size = rng.uniform(0.9, 1.1) * (1.0 if i.section is None else 0.4)
    level = _exp_filter(d.level, 72.0)
    threshold = d.foundation + 0.4 * d.height
    rain = _exp_filter(d.rain, 24.0 * 30.0) * 24.0  # mm/day
    silting = 0.6 + 0.4 * np.exp(-_years_since(d, i.installed) / 3.0)
    flow = size * (
        silting * (1.0 + 0.006 * np.maximum(level - threshold, 0.0) ** 1.5) + 0.15 * rain
    )
    return flow * (1.0 + 0.03 * rng.standard_normal(flow.size))


def _levelling(i: Instrument, c: Channel, d: _Drivers, rng: np.random.Generator) -> FloatArray:
    xi = 0.0 if i.chainage is None else (i.chainage - d.crest_length / 2) / (d.crest_length / 2)
    final = (3.0 + 4.0 * (1.0 - xi * xi)) * rng.uniform(0.9, 1.1)  # mm, most in the middle
    settlement = final * (1.0 - np.exp(-_years_since(d, i.installed) * YEAR_DAYS / 500.0))
    seasonal = -0.8 * _annual_wave(d.doy, 0.8)  # the crest rises when the dam is warm
    return settlement + seasonal + 0.3 * rng.standard_normal(settlement.size)


_Maker = Callable[[Instrument, Channel, _Drivers, np.random.Generator], FloatArray]
_MAKERS: dict[str, _Maker] = {
    "water_level": _water_level,
    "rainfall": _rainfall,
    "air_temperature": _air,
    "discharge": _discharge,
    "thermometer": _thermometer,
    "plumb_line": _plumb_line,
    "piezometer": _piezometer,
    "joint_meter": _joint_meter,
    "strain_gauge": _strain_gauge,
    "seepage_weir": _seepage_weir,
    "levelling": _levelling,
}


# --- faults --------------------------------------------------------------------------------


def _inject_faults(
    site: Site,
    series: dict[str, tuple[IntArray, FloatArray]],
    days: int,
    rng: np.random.Generator,
) -> tuple[InjectedFault, ...]:
    """Inject the four demo faults in place; return them in time order of their start."""

    def hourly(kind: str) -> list[str]:
        return [
            c.code
            for i in site.instruments
            if i.type == kind
            for c in i.channels
            if _interval(i, c) == 3600.0
        ]

    n = days * 24
    faults: list[InjectedFault] = []

    candidates = hourly("piezometer")
    if candidates and days >= 2:
        code = str(rng.choice(candidates))
        times, values = series[code]
        k = int(rng.uniform(0.25, 0.4) * n)
        values[k] += 8.0
        faults.append(
            InjectedFault(
                code, "spike", _from_us(int(times[k])), _from_us(int(times[k])), "one reading +8 m"
            )
        )
    candidates = hourly("strain_gauge")
    if candidates and days >= 15:
        code = str(rng.choice(candidates))
        times, values = series[code]
        k = int(rng.uniform(0.55, 0.65) * n)
        first, last = times[k], times[k + 119]
        keep = (times < first) | (times > last)
        series[code] = (times[keep], values[keep])
        faults.append(
            InjectedFault(
                code, "gap", _from_us(int(first)), _from_us(int(last)), "no readings for 5 days"
            )
        )
    candidates = hourly("joint_meter")
    if candidates and days >= 30:
        code = str(rng.choice(candidates))
        times, values = series[code]
        k = int(rng.uniform(0.4, 0.5) * n)
        values[k : k + 240] = values[k]
        faults.append(
            InjectedFault(
                code,
                "stuck",
                _from_us(int(times[k])),
                _from_us(int(times[k + 239])),
                f"value frozen at {values[k]:.3f} mm for 10 days",
            )
        )
    candidates = hourly("thermometer")
    if candidates and days >= 60:
        code = str(rng.choice(candidates))
        times, values = series[code]
        length = int(min(120.0, 0.4 * days) * 24)
        k = times.size - length
        values[k:] += 0.02 * (times[k:] - times[k]) / DAY_US
        faults.append(
            InjectedFault(
                code,
                "drift",
                _from_us(int(times[k])),
                _from_us(int(times[-1])),
                f"drift +0.02 °C/day over the last {length // 24} days",
            )
        )
    return tuple(sorted(faults, key=lambda f: f.start))


def _interval(instrument: Instrument, channel: Channel) -> float:
    return channel.interval or (604800.0 if instrument.manual else 3600.0)

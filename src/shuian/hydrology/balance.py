r"""What flows in: inflow from the reservoir's water balance, and volumes per period.

A reservoir rarely measures its inflow; it measures its level and knows its release. The water
balance gives the inflow,

.. math:: I(t) = O(t) + \frac{dS}{dt}, \qquad S(t) = S(h(t))

with :math:`S(h)` the stage-storage curve. The derivative of a measured level is noisy (a 1 mm
step on a 10 km² lake is 10,000 m³), so it is taken from a smoothing filter: the
Savitzky-Golay filter fits a polynomial (degree 2 by default) by least squares in a moving
window and differentiates it (:func:`scipy.signal.savgol_filter` with ``deriv=1``). Its window is
centred, so it is zero-phase: it lowers a sharp peak somewhat (more with a longer window) but
never shifts it in time, unlike a trailing moving average. The filter needs a regular grid;
readings at irregular times are first interpolated linearly onto a grid at their median step.

Evaporation, seepage and rain on the lake are not separated: they fall into the computed inflow
(which can thus be negative in dry weather); the result is the *net* inflow.

Sources: Savitzky, A. & Golay, M. J. E. (1964), "Smoothing and differentiation of data by
simplified least squares procedures", Anal. Chem. 36(8), 1627-1639; the "inverse" computation
of inflow (反推入库流量) of common reservoir practice.
"""

from __future__ import annotations

import importlib
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from shuian.errors import InvalidRequestError
from shuian.hydrology.storage import StageStorage

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_savgol_filter: Any = importlib.import_module("scipy.signal").savgol_filter

#: Default smoothing window of :func:`inflow_from_balance` (s).
DEFAULT_WINDOW_S = 3 * 3600.0

__all__ = ["DEFAULT_WINDOW_S", "BalanceInflow", "inflow_from_balance", "volumes"]


class BalanceInflow(NamedTuple):
    """Inflow from the water balance, on a regular grid.

    Attributes
    ----------
    times_us : int64 array
        µs since 1970-01-01 UTC, a regular grid (the readings' own times when they were
        regular).
    inflow : float64 array
        Net inflow (m³/s).
    storage : float64 array
        Storage (m³) at each time.
    outflow : float64 array
        The outflow (m³/s) on the grid.
    """

    times_us: IntArray
    inflow: FloatArray
    storage: FloatArray
    outflow: FloatArray


def inflow_from_balance(
    times_us: ArrayLike,
    level: ArrayLike,
    outflow: ArrayLike,
    stage_storage: StageStorage,
    *,
    window_s: float = DEFAULT_WINDOW_S,
    polyorder: int = 2,
) -> BalanceInflow:
    r"""Net inflow :math:`I = O + dS/dt` (m³/s) from levels and outflows.

    Parameters
    ----------
    times_us : array_like of int
        Reading times, µs since 1970 UTC, strictly increasing.
    level : array_like
        Reservoir level at each time (m).
    outflow : array_like
        Total outflow at each time (m³/s): spillway, outlets, turbines, intakes.
    stage_storage : StageStorage
        The reservoir's curve.
    window_s : float, default 3 h
        Length of the Savitzky-Golay window (s), rounded to an odd number of steps (at least
        ``polyorder + 1``, at most the series). Choose it shorter than the flood's rise.
    polyorder : int, default 2
        Degree of the local polynomial.

    Returns
    -------
    BalanceInflow
        On the readings' times when they are regular; otherwise on a grid from the first
        reading at the median step (level and outflow interpolated linearly).

    Raises
    ------
    InvalidRequestError
        If the times do not increase, the series have different lengths or are too short for
        the filter, or a level lies outside the stage-storage table.
    """
    t = np.asarray(times_us, dtype=np.int64)
    h = np.asarray(level, dtype=np.float64)
    o = np.asarray(outflow, dtype=np.float64)
    if t.ndim != 1 or h.shape != t.shape or o.shape != t.shape:
        raise InvalidRequestError(
            f"water balance: {t.size} times, {h.size} levels and {o.size} outflows; give one "
            "level and one outflow per time"
        )
    if t.size < polyorder + 2:
        raise InvalidRequestError(
            f"water balance: {t.size} readings are too few for a degree-{polyorder} filter"
        )
    steps = np.diff(t)
    if np.any(steps <= 0):
        k = int(np.flatnonzero(steps <= 0)[0])
        raise InvalidRequestError(
            f"water balance: reading {k + 1} is not later than reading {k}; sort the readings "
            "and drop duplicates"
        )
    step_us = int(np.median(steps))
    if np.any(steps != step_us):
        grid = np.arange(t[0], t[-1] + 1, step_us, dtype=np.int64)
        h = np.interp(grid.astype(np.float64), t.astype(np.float64), h)
        o = np.interp(grid.astype(np.float64), t.astype(np.float64), o)
        t = grid
    step_s = step_us / 1e6
    window = max(int(round(window_s / step_s)), polyorder + 1)
    window += 1 - window % 2
    if window > t.size:
        window = t.size - (1 - t.size % 2)
    if window <= polyorder:
        raise InvalidRequestError(
            f"water balance: {t.size} steps are too few for a degree-{polyorder} filter"
        )
    storage = stage_storage.storage(h)
    ds_dt = _savgol_filter(storage, window, polyorder, deriv=1, delta=step_s, mode="interp")
    inflow = np.asarray(o + ds_dt, dtype=np.float64)
    return BalanceInflow(t, inflow, np.asarray(storage, dtype=np.float64), o)


def volumes(
    times_us: ArrayLike,
    flow_m3s: ArrayLike,
    *,
    freq: Literal["D", "MS", "YS"],
    timezone: str,
) -> pd.Series:
    r"""Volume (m³) per day, month or year of a flow series, time-weighted.

    Each reading's flow is held until the next reading (a step function, as a gate's release
    is reported), so the volume is :math:`\sum_i Q_i (t_{i+1} - t_i)`; the last reading has no
    interval and adds nothing. Each interval's whole volume goes to the period in which it
    *starts*: an interval that crosses a period boundary is not split (with readings on the
    hour or more often, this moves at most one step's volume across midnight). The total over
    all periods is therefore exactly :math:`\sum_i Q_i \Delta t_i`. Missing flows (NaN) add
    nothing.

    Parameters
    ----------
    times_us : array_like of int
        Reading times, µs since 1970 UTC, strictly increasing.
    flow_m3s : array_like
        Flow at each time (m³/s).
    freq : {"D", "MS", "YS"}
        Days, months or years, in the site's calendar.
    timezone : str
        IANA zone of the site (periods start at local midnight).

    Returns
    -------
    pandas.Series
        ``volume_m3`` indexed by the start of each period (time-zone aware, in ``timezone``),
        every period from the first reading's to the last's (0 where nothing flowed).
    """
    if freq not in ("D", "MS", "YS"):
        raise InvalidRequestError(f"volumes: freq {freq!r} must be 'D', 'MS' or 'YS'")
    t = np.asarray(times_us, dtype=np.int64)
    q = np.asarray(flow_m3s, dtype=np.float64)
    if t.ndim != 1 or q.shape != t.shape:
        raise InvalidRequestError("volumes: give one flow per time")
    if np.any(np.diff(t) <= 0):
        raise InvalidRequestError("volumes: the times must increase strictly")
    dt_s = np.append(np.diff(t), 0) / 1e6
    index = pd.to_datetime(t, unit="us", utc=True).tz_convert(timezone)
    series = pd.Series(np.nan_to_num(q * dt_s, nan=0.0), index=index, name="volume_m3")
    return series.resample(freq).sum()

"""Server-side downsampling of a reading series for charts.

A browser cannot draw ten years of hourly readings (87,600 points per channel) quickly, and most
of them fall on the same pixel column anyway. :func:`downsample` picks the indices of at most
``max_points`` points that keep the visual shape of the series, using the Rust implementations
in `tsdownsample <https://github.com/predict-idlab/tsdownsample>`_:

``minmaxlttb`` (default)
    MinMaxLTTB: a min/max preselection of about ``4 * max_points`` points followed by
    Largest-Triangle-Three-Buckets. Keeps the shape of LTTB at a fraction of its cost.
``lttb``
    Largest-Triangle-Three-Buckets over all points.
``minmax``
    The minimum and the maximum of each of about ``max_points / 2`` equal-width time bins.

Whatever the method, the global minimum and maximum of the series are always kept: a reservoir
level peak or a piezometer spike must never disappear from a chart because of downsampling.

References
----------
Steinarsson, S. (2013). *Downsampling time series for visual representation*. MSc thesis,
University of Iceland (LTTB).

Van Der Donckt, J., Van Der Donckt, J., Rademaker, M., Van Hoecke, S. (2023). *MinMaxLTTB:
Leveraging MinMax-Preselection to Scale LTTB*. https://arxiv.org/abs/2305.00332
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray
from tsdownsample import LTTBDownsampler, MinMaxDownsampler, MinMaxLTTBDownsampler

from shuian.errors import InvalidRequestError

__all__ = ["MIN_POINTS", "DownsampleMethod", "downsample"]

DownsampleMethod = Literal["minmaxlttb", "lttb", "minmax"]

#: Smallest ``max_points`` accepted: room for the first point, the minimum and the maximum.
MIN_POINTS = 3

# Points the library is asked for are ``max_points - _RESERVED``: room to add the global
# minimum and maximum afterwards if the method dropped them (LTTB may).
_RESERVED = 2
# tsdownsample's Rust code panics (an uncatchable-by-``Exception`` PanicException) below these.
_LTTB_MIN_OUT = 3
_MINMAX_MIN_OUT = 4

# The downsamplers hold no state between calls; tsdownsample leaves their constructors untyped.
_MINMAX = MinMaxDownsampler()  # type: ignore[no-untyped-call]
_LTTB = LTTBDownsampler()  # type: ignore[no-untyped-call]
_MINMAXLTTB = MinMaxLTTBDownsampler()  # type: ignore[no-untyped-call]


def downsample(
    times: NDArray[np.int64],
    values: NDArray[np.float64],
    max_points: int,
    *,
    method: DownsampleMethod = "minmaxlttb",
) -> NDArray[np.intp]:
    """Choose the points of a series to draw on a chart.

    Parameters
    ----------
    times : NDArray[np.int64]
        Reading times in microseconds since the Unix epoch (UTC), strictly increasing.
    values : NDArray[np.float64]
        Reading values (any unit), same length as ``times``. NaN (missing reading) and
        infinite values are never selected and do not influence which points are.
    max_points : int
        Largest number of points to return; at least 3.
    method : {"minmaxlttb", "lttb", "minmax"}, optional
        Downsampling algorithm (see the module docstring). Default ``"minmaxlttb"``.

    Returns
    -------
    NDArray[np.intp]
        Sorted, unique indices into ``times``/``values`` of the points to keep; at most
        ``max_points`` of them. When the series has no more than ``max_points`` finite values,
        the indices of all of them (every index, if none is NaN). A point holding the global
        minimum and one holding the global maximum of the finite values are always included.

    Raises
    ------
    InvalidRequestError
        If ``max_points`` is below 3 or ``method`` is not one of the three names.
    ValueError
        If ``times`` and ``values`` are not 1-D arrays of the same length, or ``times`` is not
        strictly increasing (a caller bug, not a user error).

    Examples
    --------
    >>> times = np.arange(1000, dtype=np.int64) * 3_600_000_000
    >>> values = np.sin(np.arange(1000) / 50.0)
    >>> values[700] = 5.0
    >>> keep = downsample(times, values, 100)
    >>> len(keep) <= 100, 700 in keep
    (True, True)
    """
    if method not in get_args(DownsampleMethod):
        allowed = ", ".join(repr(m) for m in get_args(DownsampleMethod))
        raise InvalidRequestError(f"unknown downsampling method {method!r}: use one of {allowed}")
    if max_points < MIN_POINTS:
        raise InvalidRequestError(
            f"max_points must be at least {MIN_POINTS} (got {max_points}): a chart needs room "
            "for the first point, the minimum and the maximum"
        )
    if times.ndim != 1 or values.ndim != 1 or times.shape != values.shape:
        raise ValueError(
            f"times and values must be 1-D arrays of the same length, got shapes "
            f"{times.shape} and {values.shape}"
        )
    if times.size > 1 and not bool(np.all(times[1:] > times[:-1])):
        raise ValueError("times must be strictly increasing")

    finite = np.flatnonzero(np.isfinite(values))
    if finite.size <= max_points:
        return finite.astype(np.intp, copy=False)

    x = np.ascontiguousarray(times[finite], dtype=np.int64)
    y = np.ascontiguousarray(values[finite], dtype=np.float64)
    picked = _pick(x, y, max_points - _RESERVED, method)
    picked = _with_extremes(y, picked, max_points)
    return finite[picked]


def _pick(
    x: NDArray[np.int64], y: NDArray[np.float64], n_out: int, method: DownsampleMethod
) -> NDArray[np.intp]:
    """Run the tsdownsample method for ``n_out`` points; empty when ``n_out`` is too small."""
    raw: NDArray[np.integer]
    if method == "minmax":
        n_out -= n_out % 2  # one minimum and one maximum per bin
        if n_out < _MINMAX_MIN_OUT:
            return np.empty(0, dtype=np.intp)
        raw = _MINMAX.downsample(x, y, n_out=n_out)
    elif n_out < _LTTB_MIN_OUT:
        return np.empty(0, dtype=np.intp)
    elif method == "lttb":
        raw = _LTTB.downsample(x, y, n_out=n_out)
    else:
        raw = _MINMAXLTTB.downsample(x, y, n_out=n_out)
    return np.unique(raw.astype(np.intp))


def _with_extremes(
    y: NDArray[np.float64], picked: NDArray[np.intp], max_points: int
) -> NDArray[np.intp]:
    """Add the global minimum and maximum to ``picked`` unless an equal value is already there.

    When the library picked nothing (``max_points`` too small for it), fill up to
    ``max_points`` with the minimum, the maximum, the first and the last point, in that order.
    """
    lowest, highest = int(np.argmin(y)), int(np.argmax(y))
    if picked.size == 0:
        candidates = dict.fromkeys([lowest, highest, 0, y.size - 1])
        return np.array(sorted(list(candidates)[:max_points]), dtype=np.intp)
    chosen = y[picked]
    extra = [index for index in (lowest, highest) if not bool(np.any(chosen == y[index]))]
    if not extra:
        return picked
    return np.union1d(picked, np.array(extra, dtype=np.intp)).astype(np.intp, copy=False)

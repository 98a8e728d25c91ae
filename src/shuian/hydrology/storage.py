r"""The stage-storage-area curve of a reservoir: how much water a level holds, and back.

A reservoir's survey gives a table of levels :math:`h_k` (m), the storage below each level
:math:`S_k` (m³) and, often, the water-surface area :math:`A_k` (m²). Between the table's points
the curve is interpolated by a monotone piecewise cubic (PCHIP, Fritsch & Carlson 1980):

- it passes through every point of the table;
- it is monotone wherever the data are, and never overshoots: on each interval the value lies
  between the two neighbouring table values (a plain cubic spline can bulge past them on a
  convex table, and then a level can seem to hold less water than a lower one);
- it has a continuous first derivative, so that the area :math:`A = dS/dh` (when the table has
  no areas) is continuous.

The inverse :math:`h(S)` is the exact inverse of the same cubic (solved per interval by
bisection to machine precision), so that ``level(storage(h)) == h`` to rounding; a second,
independent PCHIP through :math:`(S_k, h_k)` would not round-trip.

With ``linear=True`` both ways are piecewise linear, as HEC-HMS interpolates its
elevation-storage tables (HEC-HMS Technical Reference Manual, "Reservoir" routing); the routing
validation against HEC-HMS uses this mode.

Sources: Fritsch, F. N. & Carlson, R. E. (1980), "Monotone piecewise cubic interpolation",
SIAM J. Numer. Anal. 17(2), 238-246; :class:`scipy.interpolate.PchipInterpolator`.

For example:

>>> curve = StageStorage([100.0, 110.0, 120.0], [0.0, 1.0e6, 5.0e6])
>>> float(curve.storage(110.0))
1000000.0
>>> round(float(curve.level(curve.storage(113.0))), 9)
113.0
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from shuian.errors import InvalidRequestError

FloatArray = NDArray[np.float64]

#: scipy ships no type information; it is used through this untyped handle.
PchipInterpolator: Any = importlib.import_module("scipy.interpolate").PchipInterpolator

#: Bisection steps of the inverse: the interval shrinks by 2**-60, far below rounding.
_BISECTION_STEPS = 60
#: What to do when a value falls outside the table.
_FIX = "extend the stage-storage table in the site file"

__all__ = ["StageStorage"]


def _table(name: str, values: ArrayLike, size: int | None = None) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise InvalidRequestError(f"stage-storage table: {name} must be a list of numbers")
    if size is not None and array.size != size:
        raise InvalidRequestError(
            f"stage-storage table: {array.size} {name} for {size} levels; give one per level"
        )
    if not np.all(np.isfinite(array)):
        raise InvalidRequestError(f"stage-storage table: {name} holds a missing or infinite value")
    return array


def _strictly_increasing(name: str, values: FloatArray) -> None:
    bad = np.flatnonzero(np.diff(values) <= 0)
    if bad.size:
        k = int(bad[0])
        raise InvalidRequestError(
            f"stage-storage table: {name} must increase strictly, but row {k + 2} "
            f"({values[k + 1]:g}) does not exceed row {k + 1} ({values[k]:g}); "
            "fix the stage-storage table in the site file"
        )


class StageStorage:
    r"""A reservoir's stage-storage(-area) curve, interpolated monotonically both ways.

    Parameters
    ----------
    levels : sequence of float
        Water levels :math:`h_k` (m, or ft in US units), strictly increasing; at least two.
    storages : sequence of float
        Storage below each level :math:`S_k` (m³, or ft³), strictly increasing (the inverse
        :meth:`level` needs a one-to-one curve).
    areas : sequence of float, optional
        Water-surface area at each level :math:`A_k` (m²). Without them, :meth:`area` is the
        slope :math:`dS/dh` of the storage curve.
    linear : bool, default False
        Interpolate linearly instead of by PCHIP (as HEC-HMS does).

    Raises
    ------
    InvalidRequestError
        If the table has fewer than two rows, a missing value, or levels or storages that do
        not increase strictly (the message names the row).
    """

    def __init__(
        self,
        levels: Sequence[float] | ArrayLike,
        storages: Sequence[float] | ArrayLike,
        areas: Sequence[float] | ArrayLike | None = None,
        *,
        linear: bool = False,
    ) -> None:
        h = _table("levels", levels)
        if h.size < 2:
            raise InvalidRequestError(
                f"stage-storage table: {h.size} row(s); give at least two levels with storages"
            )
        s = _table("storages", storages, h.size)
        _strictly_increasing("levels", h)
        _strictly_increasing("storages", s)
        self.levels: FloatArray = h
        self.storages: FloatArray = s
        self.areas: FloatArray | None = None if areas is None else _table("areas", areas, h.size)
        self.linear = linear
        self._forward = PchipInterpolator(h, s, extrapolate=False)
        self._slope = self._forward.derivative()
        self._area = (
            None if self.areas is None else PchipInterpolator(h, self.areas, extrapolate=False)
        )

    def __repr__(self) -> str:
        kind = "linear" if self.linear else "pchip"
        return (
            f"StageStorage({self.levels.size} rows, levels {self.levels[0]:g}.."
            f"{self.levels[-1]:g}, storages {self.storages[0]:g}..{self.storages[-1]:g}, {kind})"
        )

    @property
    def level_range(self) -> tuple[float, float]:
        """The lowest and highest level of the table."""
        return float(self.levels[0]), float(self.levels[-1])

    @property
    def storage_range(self) -> tuple[float, float]:
        """The least and greatest storage of the table."""
        return float(self.storages[0]), float(self.storages[-1])

    def storage(self, level: ArrayLike) -> FloatArray:
        """Storage :math:`S(h)` below each level (m³), same shape as ``level``.

        Raises
        ------
        InvalidRequestError
            If a level lies outside the table; the message names it and the table's range.
        """
        h = self._check("level", level, self.levels)
        if self.linear:
            return np.asarray(np.interp(h, self.levels, self.storages), dtype=np.float64)
        return np.asarray(self._forward(h), dtype=np.float64)

    def level(self, storage: ArrayLike) -> FloatArray:
        """Level :math:`h(S)` that holds each storage (m), the exact inverse of :meth:`storage`.

        Raises
        ------
        InvalidRequestError
            If a storage lies outside the table; the message names it and the table's range.
        """
        s = self._check("storage", storage, self.storages)
        if self.linear:
            return np.asarray(np.interp(s, self.storages, self.levels), dtype=np.float64)
        flat = s.ravel()
        k = np.clip(np.searchsorted(self.storages, flat, side="right") - 1, 0, self.levels.size - 2)
        lo = self.levels[k].copy()
        hi = self.levels[k + 1].copy()
        # The cubic is monotone on each interval: bisection converges for every value at once.
        for _ in range(_BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            below = np.asarray(self._forward(mid)) < flat
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        out = 0.5 * (lo + hi)
        exact = np.isin(flat, self.storages)
        if exact.any():
            out[exact] = self.levels[np.searchsorted(self.storages, flat[exact])]
        out[np.isnan(flat)] = np.nan
        return out.reshape(s.shape)

    def area(self, level: ArrayLike) -> FloatArray:
        """Water-surface area at each level (m²).

        The table's areas interpolated like the storages when the table has them; otherwise
        the slope :math:`dS/dh` of the storage curve (for ``linear=True``, the slope of the
        interval; at a table level, the interval above it).

        Raises
        ------
        InvalidRequestError
            If a level lies outside the table.
        """
        h = self._check("level", level, self.levels)
        if self.areas is not None:
            if self.linear:
                return np.asarray(np.interp(h, self.levels, self.areas), dtype=np.float64)
            assert self._area is not None
            return np.asarray(self._area(h), dtype=np.float64)
        if self.linear:
            slopes = np.diff(self.storages) / np.diff(self.levels)
            k = np.clip(np.searchsorted(self.levels, h, side="right") - 1, 0, slopes.size - 1)
            return np.asarray(np.where(np.isnan(h), np.nan, slopes[k]), dtype=np.float64)
        return np.asarray(self._slope(h), dtype=np.float64)

    def _check(self, name: str, values: ArrayLike, table: FloatArray) -> FloatArray:
        array = np.asarray(values, dtype=np.float64)
        lo, hi = float(table[0]), float(table[-1])
        outside = (array < lo) | (array > hi)
        if np.any(outside):
            value = float(array[outside].flat[0])
            raise InvalidRequestError(
                f"{name} {value:.10g} is outside the stage-storage table "
                f"({name}s {lo:.10g} to {hi:.10g}); {_FIX}"
            )
        return array


def largest_level_rate(
    curve: StageStorage, *, lowest_level: float, inflow: float, outflow: float
) -> float:
    r"""The fastest the level can change (m/h): the whole inflow or outflow on the least area.

    .. math:: \left|\frac{dh}{dt}\right| \le \frac{3600 \max(I_{max}, O_{max})}{A_{min}}

    from the water balance :math:`A\,dh/dt = I - O` with :math:`0 \le I \le I_{max}` (the
    check flood's peak inflow) and :math:`0 \le O \le O_{max}` (the outlets' full capacity),
    :math:`A_{min}` the water-surface area at ``lowest_level`` (the dead level: the area grows
    with the level, and a reservoir is not drawn below it). A reading farther than this from
    the level an hour before is not water moving: it is a sensor's spike.

    Parameters
    ----------
    curve : StageStorage
        The stage-storage(-area) curve (m, m³, m²).
    lowest_level : float
        The lowest level the reservoir works at (m).
    inflow, outflow : float
        Largest inflow and largest total outflow (m³/s).

    Raises
    ------
    InvalidRequestError
        If ``lowest_level`` lies outside the curve or the area there is not positive.

    Examples
    --------
    >>> curve = StageStorage([100.0, 110.0], [0.0, 1.0e7])  # 1 km² at every level
    >>> largest_level_rate(curve, lowest_level=100.0, inflow=500.0, outflow=200.0)
    1.8
    """
    area = float(curve.area(lowest_level))
    if not area > 0.0:
        raise InvalidRequestError(
            f"stage-storage table: the water-surface area at {lowest_level:g} m is {area:g} m²; "
            "the level's largest rate needs a positive area there"
        )
    return 3600.0 * max(inflow, outflow) / area

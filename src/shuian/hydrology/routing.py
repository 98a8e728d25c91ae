r"""Level-pool flood routing by the Modified Puls (storage-indication) method.

How high will the water get in this flood? The reservoir is a level pool: its outflow
:math:`O` depends on its storage :math:`S` alone (through the level and the release rule), and
the continuity equation over a step :math:`\Delta t`, written with trapezoidal averages,

.. math::

    \frac{I_t + I_{t+1}}{2} - \frac{O_t + O_{t+1}}{2} = \frac{S_{t+1} - S_t}{\Delta t}

is rearranged with the unknowns on the left:

.. math::

    \frac{2 S_{t+1}}{\Delta t} + O_{t+1} = N_t
    := I_t + I_{t+1} + \frac{2 S_t}{\Delta t} - O_t .

The *storage-indication* curve :math:`X(S) = 2S/\Delta t + O(S)`, tabulated on the points
:math:`(S_k, O_k)` of the storage-outflow relation, gives :math:`O_{t+1}` from :math:`N_t` by
linear interpolation (as HEC-HMS does), and then :math:`S_{t+1} = (N_t - O_{t+1})\Delta t/2`.
The start outflow is :math:`O_0 = O(S_0)`. Because :math:`S_{t+1}` is computed from the
continuity equation itself, the volume balance (trapezoidal inflow and outflow volumes against
the change of storage) closes exactly, up to rounding. :math:`X` must increase strictly with
:math:`S`, which makes each step's solution unique and the scheme stable for any
:math:`\Delta t`. Both routers require more: the outflow itself must not fall as the storage
rises (:func:`storage_indication` checks it and names the first row where it falls). A level
pool's outlets pass more water as the level rises; an outflow that falls with the storage is
a mistake in the rating or release table, and though a slow fall would keep :math:`X`
increasing it would make the peak outflow come before the peak level, which no gate-free
reservoir does.

The scheme is unit-agnostic: any consistent units work (m³, m³/s, s; or ft³, cfs, s). For
US-customary data use :data:`ACRE_FOOT_FT3` (1 acre-ft = 43,560 ft³): storages in ft³, flows in
cfs, the step in s.

Layers:

- :func:`route_puls` (compiled with numba) and :func:`route_puls_python` (the same scheme in a
  plain Python loop: the benchmark's baseline and a cross-check) route an inflow through
  storage-outflow tables;
- :func:`route` is the duty operator's entry point: a release that is a function of the level
  (:func:`operating_rule` applied to the outlets' capacity), an optional pre-release, and a
  :class:`RoutingResult` with levels and a :meth:`~RoutingResult.summary`.

Sources: Puls, L. G. (1928), "Flood regulation of the Tennessee River", House Doc. 185,
70th Congress; Chow, V. T., Maidment, D. R. & Mays, L. W. (1988), *Applied Hydrology*, §8.2
("Level pool routing"); USACE HEC-HMS Technical Reference Manual, "Modified Puls" and
"Reservoir: outflow curve".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from shuian.errors import InvalidRequestError
from shuian.hydrology.storage import StageStorage

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: One acre-foot in cubic feet.
ACRE_FOOT_FT3 = 43_560.0
#: One foot in metres.
FOOT_M = 0.3048
#: One cubic foot per second in m³/s.
CFS_M3S = FOOT_M**3
#: A pre-release table jumps to the pre-release flow over this rise above its target level
#: (the level's unit): a near step, so that the level is held at the target.
PRE_RELEASE_RAMP = 1e-3
#: Relative tolerance of the mass balance the scheme guarantees.
MASS_BALANCE_TOLERANCE = 1e-9

__all__ = [
    "ACRE_FOOT_FT3",
    "CFS_M3S",
    "FOOT_M",
    "MASS_BALANCE_TOLERANCE",
    "NUMBA_AVAILABLE",
    "RoutingResult",
    "acre_ft_to_ft3",
    "ft3_to_acre_ft",
    "mass_balance_error",
    "operating_rule",
    "route",
    "route_puls",
    "route_puls_python",
    "storage_indication",
]


def acre_ft_to_ft3(volume: ArrayLike) -> FloatArray:
    """Acre-feet to cubic feet (× 43,560)."""
    return np.asarray(volume, dtype=np.float64) * ACRE_FOOT_FT3


def ft3_to_acre_ft(volume: ArrayLike) -> FloatArray:
    """Cubic feet to acre-feet (÷ 43,560)."""
    return np.asarray(volume, dtype=np.float64) / ACRE_FOOT_FT3


# --------------------------------------------------------------------------------------------
# The core loop, twice.
#
# Both return 0 when every step stayed inside the tables, t + 1 when the step to t + 1 rose
# above the top of the table, and -(t + 1) when it fell below the bottom.


def _puls_loop(
    inflow: FloatArray,
    dt: float,
    storages: FloatArray,
    outflows: FloatArray,
    indication: FloatArray,
    step_table: IntArray,
    s0: float,
    out_outflow: FloatArray,
    out_storage: FloatArray,
) -> int:
    n = inflow.size
    m = storages.size
    tab = step_table[0]
    j = 0
    while j < m - 2 and s0 > storages[j + 1]:
        j += 1
    f = (s0 - storages[j]) / (storages[j + 1] - storages[j])
    o = outflows[tab, j] + f * (outflows[tab, j + 1] - outflows[tab, j])
    s = s0
    out_outflow[0] = o
    out_storage[0] = s
    half_dt = 0.5 * dt
    two_over_dt = 2.0 / dt
    for t in range(n - 1):
        tab = step_table[t]
        big_n = inflow[t] + inflow[t + 1] + two_over_dt * s - o
        if big_n > indication[tab, m - 1]:
            return t + 1
        if big_n < indication[tab, 0]:
            return -(t + 1)
        while j < m - 2 and big_n > indication[tab, j + 1]:
            j += 1
        while j > 0 and big_n < indication[tab, j]:
            j -= 1
        f = (big_n - indication[tab, j]) / (indication[tab, j + 1] - indication[tab, j])
        o = outflows[tab, j] + f * (outflows[tab, j + 1] - outflows[tab, j])
        s = (big_n - o) * half_dt
        out_outflow[t + 1] = o
        out_storage[t + 1] = s
    return 0


def _compile(loop: Callable[..., int]) -> tuple[Callable[..., int], bool]:
    """``numba.njit(cache=True)(loop)``, or the loop itself when numba is missing."""
    try:
        import numba
    except ImportError:  # numba is the extra shuian[fast]
        return loop, False
    compiled: Callable[..., int] = numba.njit(cache=True)(loop)
    return compiled, True


_puls_compiled, NUMBA_AVAILABLE = _compile(_puls_loop)
"""True when :func:`route_puls` runs compiled; False when numba is missing (plain loop)."""


def _puls_loop_python(
    inflow: list[float],
    dt: float,
    storages: list[float],
    outflows: list[list[float]],
    indication: list[list[float]],
    step_table: list[int],
    s0: float,
    out_outflow: list[float],
    out_storage: list[float],
) -> int:
    """The same scheme as :func:`_puls_loop`, on Python lists (no numpy in the loop)."""
    n = len(inflow)
    m = len(storages)
    table_o = outflows[step_table[0]]
    j = 0
    while j < m - 2 and s0 > storages[j + 1]:
        j += 1
    f = (s0 - storages[j]) / (storages[j + 1] - storages[j])
    o = table_o[j] + f * (table_o[j + 1] - table_o[j])
    s = s0
    out_outflow[0] = o
    out_storage[0] = s
    for t in range(n - 1):
        table_o = outflows[step_table[t]]
        table_x = indication[step_table[t]]
        big_n = inflow[t] + inflow[t + 1] + 2.0 * s / dt - o
        if big_n > table_x[m - 1]:
            return t + 1
        if big_n < table_x[0]:
            return -(t + 1)
        while j < m - 2 and big_n > table_x[j + 1]:
            j += 1
        while j > 0 and big_n < table_x[j]:
            j -= 1
        f = (big_n - table_x[j]) / (table_x[j + 1] - table_x[j])
        o = table_o[j] + f * (table_o[j + 1] - table_o[j])
        s = (big_n - o) * dt / 2.0
        out_outflow[t + 1] = o
        out_storage[t + 1] = s
    return 0


def storage_indication(storages: ArrayLike, outflows: ArrayLike, dt_s: float) -> FloatArray:
    r"""The storage-indication curve :math:`X = 2S/\Delta t + O` of storage-outflow tables.

    Parameters
    ----------
    storages : array_like, shape (m,)
        Storages :math:`S_k` (m³, or ft³), strictly increasing.
    outflows : array_like, shape (m,) or (k, m)
        Outflow :math:`O_k` at each storage (m³/s, or cfs), one row per table; each row must
        not fall as the storage rises.
    dt_s : float
        The routing step :math:`\Delta t` (s), positive.

    Returns
    -------
    ndarray, shape (k, m)
        :math:`X_k = 2 S_k/\Delta t + O_k`, strictly increasing along each row.

    Raises
    ------
    InvalidRequestError
        If a storage does not increase, a flow is missing, negative or falls as the storage
        rises; the message names the table, the row and both values.

    Notes
    -----
    .. math:: X(S) = \frac{2S}{\Delta t} + O(S), \qquad
        O(S_{k+1}) \ge O(S_k) \Rightarrow X(S_{k+1}) > X(S_k)

    The Modified Puls step solves :math:`X(S_{t+1}) = N_t` for :math:`S_{t+1}`; a monotone
    :math:`X` gives one solution (Chow, Maidment & Mays 1988, §8.2). HEC-HMS asks the same of
    its input: the discharge-storage relation of a reservoir routed by its outflow curve must
    be unique (no looped rating) and monotonically increasing with storage (HEC-HMS User's
    Manual, "Reservoir elements: outflow curve routing").

    Examples
    --------
    >>> storage_indication([0.0, 3600.0], [0.0, 1.0], 3600.0)
    array([[0., 3.]])
    """
    s = np.asarray(storages, dtype=np.float64)
    o = np.atleast_2d(np.asarray(outflows, dtype=np.float64))
    if s.ndim != 1 or s.size < 2 or o.ndim != 2 or o.shape[1] != s.size:
        raise InvalidRequestError(
            "routing: the storage-outflow table needs at least two rows and one outflow "
            f"per storage ({s.size} storages, outflow table of shape {o.shape})"
        )
    if not (dt_s > 0 and np.isfinite(dt_s)):
        raise InvalidRequestError(f"routing: the time step {dt_s!r} s must be positive")
    if np.any(np.diff(s) <= 0) or not np.all(np.isfinite(s)):
        raise InvalidRequestError(
            "routing: the storages of the storage-outflow table must increase strictly"
        )
    if not np.all(np.isfinite(o)):
        raise InvalidRequestError("routing: the storage-outflow table holds a missing flow")
    if np.any(o < 0):
        k, i = (int(v[0]) for v in np.nonzero(o < 0))
        raise InvalidRequestError(
            f"routing: table {k}, row {i + 1}: the outflow {o[k, i]:g} at storage {s[i]:g} is "
            "negative; an outflow must be 0 or more"
        )
    falls = np.diff(o, axis=1) < 0
    if np.any(falls):
        k, i = (int(v[0]) for v in np.nonzero(falls))
        raise InvalidRequestError(
            f"routing: table {k}, rows {i + 1} to {i + 2}: the outflow falls from "
            f"{o[k, i]:g} to {o[k, i + 1]:g} as the storage rises from {s[i]:g} to "
            f"{s[i + 1]:g}; a level pool's outflow must not fall as the storage rises (the "
            "storage-indication curve 2S/dt + O would not be monotone): fix the rating or "
            "release table"
        )
    indication = 2.0 * s / dt_s + o
    flat = np.diff(indication, axis=1) <= 0  # storages too close for the float's resolution
    if np.any(flat):
        k, i = (int(v[0]) for v in np.nonzero(flat))
        raise InvalidRequestError(
            f"routing: table {k}: the storage-indication curve 2S/dt + O does not increase "
            f"between storages {s[i]:g} and {s[i + 1]:g}; merge these rows or shorten the step"
        )
    return np.ascontiguousarray(indication, dtype=np.float64)


class _Prepared:
    """Validated inputs of the core loop."""

    def __init__(
        self,
        inflow: ArrayLike,
        dt_s: float,
        storages: ArrayLike,
        outflows: ArrayLike,
        start_storage: float,
        step_table: ArrayLike | None,
    ) -> None:
        self.inflow = np.ascontiguousarray(inflow, dtype=np.float64)
        self.storages = np.ascontiguousarray(storages, dtype=np.float64)
        self.outflows = np.ascontiguousarray(np.atleast_2d(outflows), dtype=np.float64)
        self.dt = float(dt_s)
        self.s0 = float(start_storage)
        if self.inflow.ndim != 1 or self.inflow.size < 1:
            raise InvalidRequestError("routing: the inflow must be a series of at least one flow")
        if not np.all(np.isfinite(self.inflow)):
            k = int(np.flatnonzero(~np.isfinite(self.inflow))[0])
            raise InvalidRequestError(f"routing: inflow step {k} is missing or infinite")
        if not (self.dt > 0 and np.isfinite(self.dt)):
            raise InvalidRequestError(f"routing: the time step {dt_s!r} s must be positive")
        # Checks the table's shape, storages and flows (the outflow must not fall).
        self.indication = storage_indication(self.storages, self.outflows, self.dt)
        n = self.inflow.size
        if step_table is None:
            self.step_table = np.zeros(max(n - 1, 1), dtype=np.int64)
        else:
            self.step_table = np.ascontiguousarray(step_table, dtype=np.int64)
            if self.step_table.shape != (max(n - 1, 1),):
                raise InvalidRequestError(
                    f"routing: step_table needs one table index per step ({max(n - 1, 1)}), "
                    f"got shape {self.step_table.shape}"
                )
            if np.any(self.step_table < 0) or np.any(self.step_table >= self.outflows.shape[0]):
                raise InvalidRequestError(
                    f"routing: step_table indexes a table outside 0..{self.outflows.shape[0] - 1}"
                )
        lo, hi = float(self.storages[0]), float(self.storages[-1])
        if not lo <= self.s0 <= hi:
            raise InvalidRequestError(
                f"routing: start storage {self.s0:.10g} is outside the storage-outflow table "
                f"({lo:.10g} to {hi:.10g}); extend the table or start from another level"
            )

    def check(self, status: int) -> None:
        if status == 0:
            return
        step = abs(status)
        where = "above the top" if status > 0 else "below the bottom"
        raise InvalidRequestError(
            f"routing: at step {step} (t = {step * self.dt:g} s) the reservoir would go {where} "
            f"of the storage-outflow table (storages {self.storages[0]:.10g} to "
            f"{self.storages[-1]:.10g}); extend the stage-storage and release tables"
        )


def route_puls(
    inflow: ArrayLike,
    dt_s: float,
    storages: ArrayLike,
    outflows: ArrayLike,
    start_storage: float,
    *,
    step_table: ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]:
    r"""Route an inflow through a storage-outflow relation (Modified Puls, compiled loop).

    Parameters
    ----------
    inflow : array_like, shape (n,)
        Inflow :math:`I_t` at times :math:`t\,\Delta t` (m³/s, or cfs).
    dt_s : float
        The step :math:`\Delta t` (s).
    storages : array_like, shape (m,)
        Storages :math:`S_k` of the table (m³, or ft³), strictly increasing.
    outflows : array_like, shape (m,) or (k, m)
        Outflow :math:`O_k` at each storage; several rows for several tables on the same
        storages (e.g. a pre-release and the normal rule). Linear in between.
    start_storage : float
        :math:`S_0`; the start outflow is :math:`O_0 = O(S_0)` of the first step's table.
    step_table : array_like of int, shape (n - 1,), optional
        Which row of ``outflows`` governs the step from :math:`t` to :math:`t+1`; all 0 by
        default. At a switch the outflow carried from the previous step is kept (the new
        table takes over at the end of that step), which keeps the balance exact.

    Returns
    -------
    outflow, storage : ndarray, shape (n,)
        :math:`O_t` and :math:`S_t`, same units as the inputs.

    Raises
    ------
    InvalidRequestError
        If the tables are malformed, the storage-indication curve does not increase, or the
        reservoir leaves the table (the message names the step).

    Notes
    -----
    Compiled with numba (``@njit(cache=True)``) when it is installed (:data:`NUMBA_AVAILABLE`);
    otherwise the same loop runs uncompiled. The first call compiles (or loads the cache).
    """
    p = _Prepared(inflow, dt_s, storages, outflows, start_storage, step_table)
    out_o = np.empty_like(p.inflow)
    out_s = np.empty_like(p.inflow)
    status = _puls_compiled(
        p.inflow, p.dt, p.storages, p.outflows, p.indication, p.step_table, p.s0, out_o, out_s
    )
    p.check(int(status))
    return out_o, out_s


def route_puls_python(
    inflow: ArrayLike,
    dt_s: float,
    storages: ArrayLike,
    outflows: ArrayLike,
    start_storage: float,
    *,
    step_table: ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]:
    """:func:`route_puls` as a plain Python loop over lists (baseline and cross-check)."""
    p = _Prepared(inflow, dt_s, storages, outflows, start_storage, step_table)
    n = p.inflow.size
    out_o = [0.0] * n
    out_s = [0.0] * n
    status = _puls_loop_python(
        p.inflow.tolist(),
        p.dt,
        p.storages.tolist(),
        p.outflows.tolist(),
        p.indication.tolist(),
        p.step_table.tolist(),
        p.s0,
        out_o,
        out_s,
    )
    p.check(status)
    return np.asarray(out_o, dtype=np.float64), np.asarray(out_s, dtype=np.float64)


def mass_balance_error(
    inflow: ArrayLike, outflow: ArrayLike, storage: ArrayLike, dt_s: float
) -> float:
    r"""Relative volume balance error of a routing.

    .. math::

        \varepsilon = \frac{V_I - V_O - (S_{end} - S_0)}{V_I}, \qquad
        V = \sum_t \frac{Q_t + Q_{t+1}}{2}\,\Delta t

    For the Modified Puls scheme it is zero up to rounding. When the inflow volume is zero the
    denominator is the largest of the outflow volume, :math:`|S_{end} - S_0|` and 1.
    """
    i = np.asarray(inflow, dtype=np.float64)
    o = np.asarray(outflow, dtype=np.float64)
    s = np.asarray(storage, dtype=np.float64)
    if i.size < 2:
        return 0.0
    v_in = float(np.sum(i[:-1] + i[1:]) * 0.5 * dt_s)
    v_out = float(np.sum(o[:-1] + o[1:]) * 0.5 * dt_s)
    change = float(s[-1] - s[0])
    scale = v_in if v_in > 0 else max(v_out, abs(change), 1.0)
    return (v_in - v_out - change) / scale


@dataclass(frozen=True, eq=False)
class RoutingResult:
    """A routed flood, one value per step.

    Attributes
    ----------
    times : ndarray
        Time from the start (s).
    inflow, outflow : ndarray
        Flows (m³/s).
    storage : ndarray
        Storage (m³).
    level : ndarray
        Water level (m), from the stage-storage curve.
    """

    times: FloatArray
    inflow: FloatArray
    outflow: FloatArray
    storage: FloatArray
    level: FloatArray

    @property
    def dt_s(self) -> float:
        """The routing step (s)."""
        return float(self.times[1] - self.times[0]) if self.times.size > 1 else 0.0

    def summary(self) -> dict[str, float]:
        """The figures an operator reads.

        Keys: ``peak_inflow``, ``peak_outflow`` (m³/s), ``attenuation``
        (1 - peak_outflow / peak_inflow), ``time_of_peak_inflow``, ``time_of_peak_outflow``,
        ``time_of_max_level`` (s from the start, the first time the peak is reached),
        ``max_level`` (m), ``max_storage`` (m³), ``mass_balance_error`` (relative, see
        :func:`mass_balance_error`).
        """
        peak_in = float(np.max(self.inflow))
        peak_out = float(np.max(self.outflow))
        return {
            "peak_inflow": peak_in,
            "peak_outflow": peak_out,
            "attenuation": 1.0 - peak_out / peak_in if peak_in > 0 else 0.0,
            "time_of_peak_inflow": float(self.times[int(np.argmax(self.inflow))]),
            "time_of_peak_outflow": float(self.times[int(np.argmax(self.outflow))]),
            "max_level": float(np.max(self.level)),
            "max_storage": float(np.max(self.storage)),
            "time_of_max_level": float(self.times[int(np.argmax(self.level))]),
            "mass_balance_error": mass_balance_error(
                self.inflow, self.outflow, self.storage, self.dt_s
            ),
        }


def operating_rule(
    levels: ArrayLike,
    capacity: ArrayLike,
    *,
    safe_discharge: float,
    trigger_level: float,
    hold_level: float,
    base_release: float,
) -> FloatArray:
    r"""Release (m³/s) at each level under a flood-control reservoir's operating rule.

    .. math::

        R(h) = \begin{cases}
            \min(R_{base}, C(h)) & h < h_{hold} \\
            \min(Q_{safe}, C(h)) & h_{hold} \le h < h_{trigger} \\
            C(h) & h \ge h_{trigger}
        \end{cases}

    with :math:`C(h)` the outlets' capacity (e.g. :func:`shuian.hydrology.outlets.total_capacity`),
    :math:`h_{hold}` the flood-control level (held as long as the inflow allows, releasing the
    base flow), :math:`Q_{safe}` the largest discharge the river below takes without damage
    and :math:`h_{trigger}` the level above which the dam's own safety comes first (all gates
    open). The rule is a function of the level only: gate schedules with hysteresis or
    forecasts are not represented.

    Parameters
    ----------
    levels : array_like
        Levels (m), strictly increasing.
    capacity : array_like
        Capacity at each level (m³/s), non-decreasing.
    safe_discharge, base_release : float
        :math:`Q_{safe}` and :math:`R_{base}` (m³/s), with :math:`0 \le R_{base} \le Q_{safe}`.
    trigger_level, hold_level : float
        :math:`h_{trigger}` and :math:`h_{hold}` (m), with :math:`h_{hold} \le h_{trigger}`.

    Returns
    -------
    ndarray
        Release at each level, monotone non-decreasing in the level (checked: under the
        conditions above each regime is non-decreasing and each regime's release is at most
        the next one's at the same level).

    Raises
    ------
    InvalidRequestError
        If the conditions above do not hold (the message says which).
    """
    h = np.asarray(levels, dtype=np.float64)
    cap = np.asarray(capacity, dtype=np.float64)
    if h.ndim != 1 or cap.shape != h.shape:
        raise InvalidRequestError("operating rule: give one capacity per level")
    if np.any(np.diff(h) <= 0):
        raise InvalidRequestError("operating rule: the levels must increase strictly")
    if np.any(np.diff(cap) < 0):
        k = int(np.flatnonzero(np.diff(cap) < 0)[0])
        raise InvalidRequestError(
            f"operating rule: the capacity falls from {cap[k]:g} to {cap[k + 1]:g} m³/s between "
            f"levels {h[k]:g} and {h[k + 1]:g} m; a capacity must not fall as the level rises"
        )
    if not 0 <= base_release <= safe_discharge:
        raise InvalidRequestError(
            f"operating rule: need 0 <= base_release ({base_release:g}) <= safe_discharge "
            f"({safe_discharge:g}) m³/s"
        )
    if hold_level > trigger_level:
        raise InvalidRequestError(
            f"operating rule: the flood-control (hold) level {hold_level:g} m is above the "
            f"trigger level {trigger_level:g} m; swap them"
        )
    release = np.where(
        h < hold_level,
        np.minimum(base_release, cap),
        np.where(h < trigger_level, np.minimum(safe_discharge, cap), cap),
    )
    assert np.all(np.diff(release) >= 0), "operating rule must be monotone"
    return np.asarray(release, dtype=np.float64)


def _check_release(what: str, levels: FloatArray, flows: FloatArray) -> None:
    """Refuse a release table whose flow is missing, negative or falls as the level rises."""
    if not np.all(np.isfinite(flows)):
        k = int(np.flatnonzero(~np.isfinite(flows))[0])
        raise InvalidRequestError(f"routing: the {what} flow at level {levels[k]:g} m is missing")
    if np.any(flows < 0):
        k = int(np.flatnonzero(flows < 0)[0])
        raise InvalidRequestError(
            f"routing: the {what} flow {flows[k]:g} m³/s at level {levels[k]:g} m is negative"
        )
    falls = np.flatnonzero(np.diff(flows) < 0)
    if falls.size:
        k = int(falls[0])
        raise InvalidRequestError(
            f"routing: the {what} flow falls from {flows[k]:g} to {flows[k + 1]:g} m³/s as the "
            f"level rises from {levels[k]:g} to {levels[k + 1]:g} m; a release must not fall "
            "as the water rises (check the outlets' rating tables and the operating rule)"
        )


def _release_table(
    stage_storage: StageStorage,
    release_levels: FloatArray,
    release_flows: FloatArray,
    extra_levels: list[float],
) -> tuple[FloatArray, FloatArray]:
    """Levels of the storage-outflow table and the release at each (first flow below)."""
    lo, hi = stage_storage.level_range
    top = min(hi, float(release_levels[-1]))
    grid = np.union1d(np.union1d(stage_storage.levels, release_levels), extra_levels)
    grid = grid[(grid >= lo) & (grid <= top)]
    flows = np.interp(grid, release_levels, release_flows)
    return grid, np.asarray(flows, dtype=np.float64)


def route(
    inflow: ArrayLike,
    dt_s: float,
    stage_storage: StageStorage,
    release_levels: ArrayLike,
    release_flows: ArrayLike,
    start_level: float,
    *,
    pre_release: tuple[float, float] | None = None,
    pre_release_flows: ArrayLike | None = None,
) -> RoutingResult:
    r"""Route a flood through the reservoir whose release is a function of its level.

    Parameters
    ----------
    inflow : array_like, shape (n,)
        Inflow (m³/s) every ``dt_s`` seconds from the start.
    dt_s : float
        Step (s).
    stage_storage : StageStorage
        The reservoir's stage-storage curve.
    release_levels, release_flows : array_like
        The release (m³/s) at levels (m), e.g. :func:`operating_rule` on the outlets'
        capacity; linear between the levels; below the first level the first flow; the
        routing stops with an error if the water rises above the last level.
    start_level : float
        Level at the start (m); the start release is the rule's release there.
    pre_release : (until_s, target_level), optional
        Release ahead of the flood: from the start until ``until_s`` (s), while the level is
        above ``target_level`` (m), release the larger of ``pre_release_flows`` and the rule
        (at or below the target, the rule alone; the switch is a ramp of
        :data:`PRE_RELEASE_RAMP` above the target, so the level is held there). Implemented as
        a second storage-outflow table used for the steps that start before ``until_s``
        (``step_table`` of :func:`route_puls`).
    pre_release_flows : array_like, optional
        The pre-release flow at ``release_levels``, normally
        ``numpy.minimum(safe_discharge, capacity)``; required with ``pre_release``.

    Returns
    -------
    RoutingResult

    Notes
    -----
    The release rule is converted to a storage-outflow table on the union of the
    stage-storage table's levels and the release table's break points, with the storages from
    ``stage_storage``; the routing then interpolates linearly in that table (as HEC-HMS). For a
    finer storage-outflow relation, give a finer stage-storage table.
    """
    q_in = np.asarray(inflow, dtype=np.float64)
    rel_h = np.asarray(release_levels, dtype=np.float64)
    rel_q = np.asarray(release_flows, dtype=np.float64)
    if rel_h.ndim != 1 or rel_h.size < 2 or rel_q.shape != rel_h.shape:
        raise InvalidRequestError("routing: give at least two release levels and one flow each")
    if np.any(np.diff(rel_h) <= 0):
        raise InvalidRequestError("routing: the release levels must increase strictly")
    _check_release("release", rel_h, rel_q)
    extra: list[float] = []
    pre_q: FloatArray | None = None
    if pre_release is not None:
        if pre_release_flows is None:
            raise InvalidRequestError(
                "routing: pre_release needs pre_release_flows, e.g. min(safe_discharge, capacity)"
            )
        pre_q = np.asarray(pre_release_flows, dtype=np.float64)
        if pre_q.shape != rel_h.shape:
            raise InvalidRequestError("routing: give one pre-release flow per release level")
        _check_release("pre-release", rel_h, pre_q)
        target = float(pre_release[1])
        extra = [target, target + PRE_RELEASE_RAMP]
    grid, flows = _release_table(stage_storage, rel_h, rel_q, extra)
    storages = stage_storage.storage(grid)
    tables = [flows]
    steps = max(q_in.size - 1, 1)
    step_table = np.zeros(steps, dtype=np.int64)
    if pre_release is not None and pre_q is not None:
        until_s, target = float(pre_release[0]), float(pre_release[1])
        pre = np.maximum(flows, np.interp(grid, rel_h, pre_q))
        tables.append(np.where(grid > target, pre, flows))
        step_table[np.arange(steps) * float(dt_s) < until_s] = 1
    start_storage = float(stage_storage.storage(start_level))
    outflow, storage = route_puls(
        q_in, dt_s, storages, np.vstack(tables), start_storage, step_table=step_table
    )
    lo, hi = stage_storage.storage_range
    level = stage_storage.level(np.clip(storage, lo, hi))
    times = np.arange(q_in.size, dtype=np.float64) * float(dt_s)
    return RoutingResult(times, q_in, outflow, storage, level)

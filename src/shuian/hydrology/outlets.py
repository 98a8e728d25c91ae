r"""Discharge capacity of a reservoir's outlets as a function of the water level.

SI units throughout: levels in m, lengths in m, areas in m², flows in m³/s,
:math:`g = 9.80665` m/s². Every function is vectorised over the level (any array shape).

Every capacity here is continuous and non-decreasing in the level (a level-pool routing relies
on it: an outflow that falls as the water rises makes the storage-indication curve fold back),
except for the deliberate upward steps of a switch: an :class:`Intake` or :class:`Turbine`
starts drawing its rated flow at its minimum level, and a :class:`RatingTable` whose first flow
is not 0 starts there. No capacity ever falls as the level rises.

Formulas
--------
Free overflow of a spillway bay (weir flow), :func:`weir_flow`:

.. math:: Q = n\,C\,B\,H^{3/2}, \qquad H = h - z_{crest} \;(0 \text{ when } H \le 0)

:math:`C = m\sqrt{2g}` (m^0.5/s) with the discharge coefficient :math:`m`: about 0.385
(:math:`C \approx 1.70`) for a broad-crested weir up to about 0.49-0.50 (:math:`C \approx
2.2`) for an ogee (WES) crest at its design head (SL 253-2018 *Design code for spillways*,
Appendix A; USBR *Design of Small Dams*, 3rd ed. 1987, §9.13, where C = 3.0-4.0 ft^0.5/s,
i.e. 1.66-2.21 m^0.5/s). Pier and abutment contraction is folded into :math:`C` (or into an
effective width :math:`B`).

Flow under a gate lifted by an opening :math:`e` (orifice flow), :func:`gate_flow`, in the
form of SL 253-2018 Appendix A (gate on a spillway crest):

.. math:: Q = n\,\mu\,e\,B\sqrt{2 g H_0}, \qquad H_0 \approx H = h - z_{crest}

with the approach-velocity head neglected (:math:`H_0 \approx H`; small in a reservoir, and
neglecting it errs on the safe side for the capacity). Without a given :math:`\mu` the
plane-gate formula :math:`\mu = 0.745 - 0.274\,e/H` of Chinese hydraulics practice is used
(:func:`plane_gate_coefficient`). The other common form, :math:`Q = \mu e B \sqrt{2g(H - e/2)}`
(head measured to the centre of the opening) suits a sluice gate on a flat sill; give
:math:`\mu` yourself if your gate was rated that way.

A gated bay, :meth:`SpillwayBay.capacity`, passes the smaller of the two at the same head:

.. math:: Q = n \min\left(C B H^{3/2},\; \mu e B \sqrt{2 g H}\right)

A gate is an obstruction: it never lets more water over the crest than the free weir would
(:math:`Q \le Q_{weir}`), and once its lip is in the water the opening limits the flow
(:math:`Q \le Q_{gate}`). At low head the weir term is the smaller (it grows as
:math:`H^{3/2}`, the orifice term as :math:`H^{1/2}`): the gate is clear of the water and the
bay flows as a free weir; at high head the gate controls. The two meet at the handover head

.. math:: H^* = \frac{\mu \sqrt{2g}}{C}\, e

which for usual coefficients (:math:`\mu \approx 0.57-0.72`, :math:`C \approx 1.7-2.2`) lies
between about 1.1 and 1.9 times the opening (:math:`e/H^* \approx 0.5-0.9`), where the sources
put the change: HEC-RAS computes weir flow while the upstream water surface is at most the
gate opening above the crest, gate flow from 1.25 times the opening, and a linear weighting of
the two in between (USACE HEC-RAS *Hydraulic Reference Manual*, "Modeling gated spillways,
weirs and drop structures: hydraulic computations through gated spillways"); Chinese practice
treats a gate on a crest as gate-controlled for :math:`e/H \le 0.65` (broad crest) to 0.75
(practical-profile crest) and as free overflow above. Taking the minimum rather than a switch
at a fixed :math:`e/H` (which made the capacity drop 18 % for 1 cm of rise near
:math:`e/H = 0.65` when the two formulas disagreed there) or HEC-RAS's weighting (which can
fall with the head when :math:`Q_{gate} < Q_{weir}` in the transition zone) keeps the capacity
continuous and non-decreasing in the level for every opening and every pair of coefficients:
both terms are continuous and increase with :math:`H`, and so does their minimum. EPA SWMM 5
treats a bottom orifice the same way: its orifice-to-weir handover head is where the orifice
and weir equations give the same flow.

Orifice or bottom outlet, :func:`orifice_flow`:

.. math:: Q = n\,C\,A\sqrt{2 g h_c}, \qquad h_c = h - z_{centre} \;(0 \text{ when } h_c \le 0)

:math:`C \approx 0.6` for a sharp-edged orifice, 0.8-0.95 for a bell-mouthed conduit with its
losses; valid when the opening is submerged (the level above its top). Free outfall assumed.

Sources: SL 253-2018 (溢洪道设计规范, Ministry of Water Resources of China), Appendix A;
U.S. Bureau of Reclamation (1987), *Design of Small Dams*, 3rd ed., ch. 9; Chow, V. T. (1959),
*Open-Channel Hydraulics*, ch. 14; U.S. Army Corps of Engineers, Hydrologic Engineering
Center, *HEC-RAS Hydraulic Reference Manual* (gated spillways: weir, gate and transition
flow); Wu Chigong (吴持恭), *Hydraulics* (水力学), gates on a practical-profile weir.

For example:

>>> bay = SpillwayBay(crest=100.0, width=10.0, coefficient=2.0)
>>> float(bay.capacity(104.0))  # 2.0 * 10 * 4**1.5
160.0
>>> gated = SpillwayBay(crest=100.0, width=10.0, coefficient=2.0, opening=1.0)
>>> float(gated.capacity(101.0))  # H = e: the gate is clear, weir flow 2.0 * 10 * 1
20.0
>>> round(float(gated.capacity(110.0)), 2)  # H = 10 m: under the gate, mu = 0.7176
100.5
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from shuian.errors import InvalidRequestError

FloatArray = NDArray[np.float64]

#: Standard gravity (m/s²).
G = 9.80665
#: Range of the relative opening e/H over which the plane-gate formula was fitted; outside it
#: :func:`plane_gate_coefficient` holds the value at the nearer end.
PLANE_GATE_RANGE = (0.1, 0.65)

__all__ = [
    "PLANE_GATE_RANGE",
    "G",
    "Intake",
    "Orifice",
    "Outlet",
    "RatingTable",
    "SpillwayBay",
    "Turbine",
    "gate_flow",
    "gated_weir_flow",
    "handover_head",
    "orifice_flow",
    "plane_gate_coefficient",
    "total_capacity",
    "weir_flow",
]


def _levels(level: ArrayLike) -> FloatArray:
    return np.asarray(level, dtype=np.float64)


def weir_flow(head: ArrayLike, width: float, coefficient: float) -> FloatArray:
    r"""Free overflow :math:`Q = C B H^{3/2}` (m³/s) of one bay; 0 where :math:`H \le 0`.

    Parameters
    ----------
    head : array_like
        Head over the crest :math:`H` (m).
    width : float
        Clear width of the bay :math:`B` (m).
    coefficient : float
        :math:`C = m\sqrt{2g}` (m^0.5/s), about 1.7-2.2.
    """
    h = np.clip(np.asarray(head, dtype=np.float64), 0.0, None)
    return np.asarray(coefficient * width * h**1.5, dtype=np.float64)


def plane_gate_coefficient(relative_opening: ArrayLike) -> FloatArray:
    r"""Discharge coefficient of a plane gate on a spillway crest, :math:`\mu = 0.745 - 0.274\,e/H`.

    Parameters
    ----------
    relative_opening : array_like
        :math:`e/H`, the gate opening over the head on the crest (-).

    Returns
    -------
    ndarray
        :math:`\mu` (-), from 0.7176 (:math:`e/H \le 0.1`) to 0.5669 (:math:`e/H \ge 0.65`).

    Notes
    -----
    .. math:: \mu = 0.745 - 0.274\,\min(\max(e/H,\ 0.1),\ 0.65)

    The formula was fitted for :math:`0.1 \le e/H \le 0.65` (Wu Chigong, *Hydraulics*, gate on
    a practical-profile weir); outside that range the value at the nearer end is held
    (:data:`PLANE_GATE_RANGE`), so that :math:`\mu` stays positive and continuous. Check it
    against the gate's own rating where one exists.

    The flow under the gate still grows with the head although :math:`\mu` depends on it:
    :math:`\mu e \sqrt{H} = e\,(0.745\sqrt{H} - 0.274\,e/\sqrt{H})` has the derivative
    :math:`e\,(0.3725\,H^{-1/2} + 0.137\,e\,H^{-3/2}) > 0`, and :math:`\mu` is constant outside
    the fitted range.
    """
    lo, hi = PLANE_GATE_RANGE
    r = np.clip(np.asarray(relative_opening, dtype=np.float64), lo, hi)
    return np.asarray(0.745 - 0.274 * r, dtype=np.float64)


def gate_flow(
    head: ArrayLike, opening: float, width: float, coefficient: float | None = None
) -> FloatArray:
    r"""Flow under a gate :math:`Q = \mu e B \sqrt{2 g H}` (m³/s) of one bay (orifice flow).

    Parameters
    ----------
    head : array_like
        Head over the crest :math:`H` (m); 0 where :math:`H \le 0`.
    opening : float
        Gate opening :math:`e` (m).
    width : float
        Clear width :math:`B` (m).
    coefficient : float, optional
        :math:`\mu`; without it :func:`plane_gate_coefficient` of :math:`e/H`.

    Notes
    -----
    This is the orifice form alone, which overstates the flow at low head where the gate is
    clear of the water; :func:`gated_weir_flow` (used by :class:`SpillwayBay`) takes the
    smaller of it and the free overflow.
    """
    h = np.clip(np.asarray(head, dtype=np.float64), 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = (
            plane_gate_coefficient(np.where(h > 0, opening / h, 0.0))
            if coefficient is None
            else np.full_like(h, coefficient)
        )
    return np.asarray(mu * opening * width * np.sqrt(2.0 * G * h), dtype=np.float64)


def gated_weir_flow(
    head: ArrayLike,
    opening: float,
    width: float,
    coefficient: float,
    gate_coefficient: float | None = None,
) -> FloatArray:
    r"""Flow of one gated bay (m³/s): the smaller of free overflow and flow under the gate.

    Parameters
    ----------
    head : array_like
        Head over the crest :math:`H` (m); 0 where :math:`H \le 0`.
    opening : float
        Gate opening :math:`e` (m); 0 or less: closed.
    width : float
        Clear width :math:`B` (m).
    coefficient : float
        Free-overflow coefficient :math:`C` (m^0.5/s) of :func:`weir_flow`.
    gate_coefficient : float, optional
        :math:`\mu` of :func:`gate_flow`; without it :func:`plane_gate_coefficient`.

    Returns
    -------
    ndarray
        Flow (m³/s), continuous and non-decreasing in the head.

    Notes
    -----
    .. math:: Q = \min\left(C B H^{3/2},\; \mu e B \sqrt{2 g H}\right)

    Weir flow while the gate is clear of the water, gate flow once the gate controls; the
    change is at :func:`handover_head`. Why the minimum and not a switch at a fixed
    :math:`e/H`: see the module's notes (HEC-RAS Hydraulic Reference Manual, gated spillways;
    SL 253-2018 Appendix A).

    Examples
    --------
    >>> float(gated_weir_flow(1.0, opening=1.0, width=10.0, coefficient=2.0))
    20.0
    """
    h = np.clip(np.asarray(head, dtype=np.float64), 0.0, None)
    if opening <= 0:
        return np.zeros_like(h)
    free = weir_flow(h, width, coefficient)
    gated = gate_flow(h, opening, width, gate_coefficient)
    return np.asarray(np.minimum(free, gated), dtype=np.float64)


def handover_head(
    opening: float, coefficient: float, gate_coefficient: float | None = None
) -> float:
    r"""Head on the crest (m) at which a gated bay changes from weir flow to gate flow.

    Parameters
    ----------
    opening : float
        Gate opening :math:`e` (m), positive.
    coefficient : float
        Free-overflow coefficient :math:`C` (m^0.5/s).
    gate_coefficient : float, optional
        :math:`\mu`; without it :func:`plane_gate_coefficient` (then :math:`\mu` depends on
        :math:`H^*` and the equation is solved for it).

    Returns
    -------
    float
        :math:`H^*` where :math:`C B H^{3/2} = \mu e B \sqrt{2 g H}`: below it the bay flows
        as a free weir, above it the gate controls.

    Notes
    -----
    .. math:: H^* = \frac{\mu \sqrt{2g}}{C}\, e

    With the plane-gate :math:`\mu = 0.745 - 0.274\,e/H` in its fitted range this is the
    quadratic :math:`C H = \sqrt{2g}\,(0.745\,e - 0.274\,e^2/H)` in :math:`H`, whose positive
    root is taken when it lies in the range.

    Examples
    --------
    >>> round(handover_head(1.0, coefficient=2.0, gate_coefficient=0.6), 4)
    1.3286
    """
    if opening <= 0:
        raise InvalidRequestError(f"handover head: the opening {opening!r} m must be positive")
    s = float(np.sqrt(2.0 * G))
    if gate_coefficient is not None:
        return float(gate_coefficient * s / coefficient * opening)
    lo, hi = PLANE_GATE_RANGE
    # e/H >= hi (mu held at its low end): H = mu(hi) sqrt(2g) e / C.
    h_low_mu = float(plane_gate_coefficient(hi)) * float(s) / coefficient * opening
    if opening / h_low_mu >= hi:
        return h_low_mu
    # Inside the range: C H^2 - 0.745 sqrt(2g) e H + 0.274 sqrt(2g) e^2 = 0.
    a, b, c = coefficient, -0.745 * s * opening, 0.274 * s * opening**2
    root = float((-b + np.sqrt(b * b - 4 * a * c)) / (2 * a))
    if opening / root >= lo:
        return root
    # e/H <= lo (mu held at its high end).
    return float(plane_gate_coefficient(lo)) * float(s) / coefficient * opening


def orifice_flow(head: ArrayLike, area: float, coefficient: float) -> FloatArray:
    r"""Orifice flow :math:`Q = C A \sqrt{2 g h}` (m³/s); 0 where :math:`h \le 0`.

    Parameters
    ----------
    head : array_like
        Head above the centre of the opening :math:`h` (m).
    area : float
        Area of the opening :math:`A` (m²).
    coefficient : float
        Discharge coefficient :math:`C` (0.6 sharp-edged, 0.8-0.95 bell-mouthed conduit).
    """
    h = np.clip(np.asarray(head, dtype=np.float64), 0.0, None)
    return np.asarray(coefficient * area * np.sqrt(2.0 * G * h), dtype=np.float64)


class Outlet(Protocol):
    """Anything with a discharge capacity (m³/s) as a function of the level (m)."""

    def capacity(self, level: ArrayLike) -> FloatArray:
        """Discharge capacity at each level (m³/s)."""
        ...


@dataclass(frozen=True)
class SpillwayBay:
    r"""``count`` identical spillway bays, free (``opening=None``) or gated.

    Attributes
    ----------
    crest : float
        Crest level :math:`z_{crest}` (m).
    width : float
        Clear width of one bay :math:`B` (m).
    coefficient : float
        Free-overflow coefficient :math:`C` (m^0.5/s), :func:`weir_flow`.
    count : int
        Number of bays.
    opening : float or None
        Gate opening :math:`e` (m); None for a free (ungated or fully open) bay.
    gate_coefficient : float or None
        :math:`\mu` of :func:`gate_flow`; None: :func:`plane_gate_coefficient`.
    """

    crest: float
    width: float
    coefficient: float
    count: int = 1
    opening: float | None = None
    gate_coefficient: float | None = None

    def capacity(self, level: ArrayLike) -> FloatArray:
        """Discharge of all bays at each level (m³/s).

        Free bays: :func:`weir_flow`; gated bays: :func:`gated_weir_flow`, the smaller of the
        free overflow and the flow under the gate. Continuous and non-decreasing in the level.
        """
        head = np.clip(_levels(level) - self.crest, 0.0, None)
        if self.opening is None:
            return self.count * weir_flow(head, self.width, self.coefficient)
        flow = gated_weir_flow(
            head, self.opening, self.width, self.coefficient, self.gate_coefficient
        )
        return np.asarray(self.count * flow, dtype=np.float64)


@dataclass(frozen=True)
class Orifice:
    """``count`` identical orifices or bottom outlets (:func:`orifice_flow`).

    Attributes
    ----------
    centre : float
        Level of the centre of the opening (m).
    area : float
        Area of one opening (m²).
    coefficient : float
        Discharge coefficient :math:`C`.
    count : int
        Number of openings.
    """

    centre: float
    area: float
    coefficient: float
    count: int = 1

    def capacity(self, level: ArrayLike) -> FloatArray:
        """Discharge of all openings at each level (m³/s)."""
        return self.count * orifice_flow(_levels(level) - self.centre, self.area, self.coefficient)


@dataclass(frozen=True)
class RatingTable:
    """A measured or designed rating: flows (m³/s) at levels (m), linear in between.

    Below the first level the flow is 0; above the last level :meth:`capacity` raises
    :class:`~shuian.errors.InvalidRequestError` (a rating is not extrapolated). The flows must
    not fall as the level rises (a level-pool routing needs an outflow that never falls with
    the storage); a table whose first flow is above 0 steps up to it at its first level.

    Attributes
    ----------
    levels : tuple of float
        Strictly increasing levels (m).
    flows : tuple of float
        Flow at each level (m³/s).
    name : str
        What the table rates, for messages.
    """

    levels: tuple[float, ...]
    flows: tuple[float, ...]
    name: str = "rating table"
    _arrays: tuple[FloatArray, FloatArray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        h = np.asarray(self.levels, dtype=np.float64)
        q = np.asarray(self.flows, dtype=np.float64)
        if h.ndim != 1 or h.size < 2 or q.shape != h.shape:
            raise InvalidRequestError(
                f"{self.name}: give at least two levels and one flow per level "
                f"({h.size} levels, {q.size} flows)"
            )
        if np.any(np.diff(h) <= 0) or not np.all(np.isfinite(h)) or not np.all(np.isfinite(q)):
            raise InvalidRequestError(
                f"{self.name}: levels must increase strictly and every cell must be a number"
            )
        falls = np.flatnonzero(np.diff(q) < 0)
        if falls.size or q[0] < 0:
            k = int(falls[0]) + 1 if falls.size else 0
            before = f"{q[k - 1]:.10g} m³/s at {h[k - 1]:.10g} m to " if k else ""
            raise InvalidRequestError(
                f"{self.name}: the flow falls from {before}{q[k]:.10g} m³/s at {h[k]:.10g} m "
                f"(row {k + 1}); a rating's flows must be 0 or more and must not fall as the "
                "level rises"
            )
        object.__setattr__(self, "_arrays", (h, q))

    def capacity(self, level: ArrayLike) -> FloatArray:
        """Flow at each level (m³/s): linear interpolation, 0 below the table."""
        h, q = self._arrays
        x = _levels(level)
        above = x > h[-1]
        if np.any(above):
            raise InvalidRequestError(
                f"{self.name}: level {float(x[above].flat[0]):.10g} m is above the table "
                f"(levels {h[0]:.10g} to {h[-1]:.10g} m); extend the {self.name} in the "
                "site file"
            )
        return np.asarray(np.interp(x, h, q, left=0.0), dtype=np.float64)


@dataclass(frozen=True)
class Intake:
    """A water-supply or irrigation intake: a constant capacity above its minimum level.

    The capacity is a switch, not a hydraulic curve: it steps up from 0 to
    ``count * capacity_m3s`` at ``min_level`` (the lowest level at which the intake may draw)
    and is constant above, so it never falls as the level rises.

    Attributes
    ----------
    min_level : float
        Lowest level at which it can draw (m); below it the capacity is 0.
    capacity_m3s : float
        Capacity of one unit (m³/s).
    count : int
        Number of units.
    """

    min_level: float
    capacity_m3s: float
    count: int = 1

    def capacity(self, level: ArrayLike) -> FloatArray:
        """``count * capacity_m3s`` where the level is at or above ``min_level``, else 0."""
        x = _levels(level)
        flow = np.where(x >= self.min_level, self.count * self.capacity_m3s, 0.0)
        return np.asarray(np.where(np.isnan(x), np.nan, flow), dtype=np.float64)


@dataclass(frozen=True)
class Turbine(Intake):
    """A turbine unit: its rated flow (``capacity_m3s``) above its minimum operating level."""


def total_capacity(level: ArrayLike, outlets: Iterable[Outlet]) -> FloatArray:
    """Sum of the capacities of ``outlets`` at each level (m³/s), the shape of ``level``.

    Parameters
    ----------
    level : array_like
        Reservoir level (m).
    outlets : iterable of Outlet
        :class:`SpillwayBay`, :class:`Orifice`, :class:`RatingTable`, :class:`Intake`,
        :class:`Turbine` or anything with a ``capacity(level)`` method.
    """
    x = _levels(level)
    total = np.zeros_like(x)
    for outlet in outlets:
        total = total + outlet.capacity(x)
    return total

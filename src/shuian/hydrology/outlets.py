r"""Discharge capacity of a reservoir's outlets as a function of the water level.

SI units throughout: levels in m, lengths in m, areas in m², flows in m³/s,
:math:`g = 9.80665` m/s². Every function is vectorised over the level (any array shape).

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
(Wu Chigong, *Hydraulics* (水力学), gate on a practical-profile weir; valid for
:math:`0.1 \le e/H \le 0.65`). The other common form, :math:`Q = \mu e B \sqrt{2g(H - e/2)}`
(head measured to the centre of the opening) suits a sluice gate on a flat sill; give
:math:`\mu` yourself if your gate was rated that way. When :math:`e/H > 0.65` the gate no longer
touches the jet: the flow is free overflow (:func:`weir_flow`); a bay whose gate is fully open
(``opening=None``) is free overflow at every head.

Orifice or bottom outlet, :func:`orifice_flow`:

.. math:: Q = n\,C\,A\sqrt{2 g h_c}, \qquad h_c = h - z_{centre} \;(0 \text{ when } h_c \le 0)

:math:`C \approx 0.6` for a sharp-edged orifice, 0.8-0.95 for a bell-mouthed conduit with its
losses; valid when the opening is submerged (the level above its top). Free outfall assumed.

Sources: SL 253-2018 (溢洪道设计规范, Ministry of Water Resources of China), Appendix A;
U.S. Bureau of Reclamation (1987), *Design of Small Dams*, 3rd ed., ch. 9; Chow, V. T. (1959),
*Open-Channel Hydraulics*, ch. 14.

For example:

>>> bay = SpillwayBay(crest=100.0, width=10.0, coefficient=2.0)
>>> float(bay.capacity(104.0))  # 2.0 * 10 * 4**1.5
160.0
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
#: Relative opening e/H above which a gated bay flows as a free weir (SL 253 practice).
FREE_FLOW_OPENING_RATIO = 0.65

__all__ = [
    "FREE_FLOW_OPENING_RATIO",
    "G",
    "Intake",
    "Orifice",
    "Outlet",
    "RatingTable",
    "SpillwayBay",
    "Turbine",
    "gate_flow",
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

    Valid for :math:`0.1 \le e/H \le 0.65` (Wu Chigong, *Hydraulics*); check it against the
    gate's own rating where one exists.
    """
    return np.asarray(0.745 - 0.274 * np.asarray(relative_opening, dtype=np.float64))


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
    This is the orifice form only; :class:`SpillwayBay` switches to free overflow when
    :math:`e/H > 0.65` (:data:`FREE_FLOW_OPENING_RATIO`).
    """
    h = np.clip(np.asarray(head, dtype=np.float64), 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = (
            plane_gate_coefficient(np.where(h > 0, opening / h, 0.0))
            if coefficient is None
            else np.full_like(h, coefficient)
        )
    return np.asarray(mu * opening * width * np.sqrt(2.0 * G * h), dtype=np.float64)


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
        """Discharge of all bays at each level (m³/s): orifice flow while e/H <= 0.65."""
        head = np.clip(_levels(level) - self.crest, 0.0, None)
        free = weir_flow(head, self.width, self.coefficient)
        if self.opening is None:
            return self.count * free
        opening = self.opening
        if opening <= 0:
            return np.zeros_like(head)
        gated = gate_flow(head, opening, self.width, self.gate_coefficient)
        orifice = opening <= FREE_FLOW_OPENING_RATIO * head
        return np.asarray(self.count * np.where(orifice, gated, free), dtype=np.float64)


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
    :class:`~shuian.errors.InvalidRequestError` (a rating is not extrapolated).

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

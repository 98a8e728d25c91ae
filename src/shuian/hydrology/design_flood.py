r"""A design flood hydrograph from its peak and its volume.

The shape is the trapezoid of practice (a triangle when there is no plateau): a linear rise from
the base flow to the peak, the peak held for a plateau, and a linear recession back to the base
flow,

.. math::

    Q(t) = Q_b + (Q_p - Q_b)\,\begin{cases}
        t / T_r & 0 \le t \le T_r \\
        1 & T_r \le t \le T_r + T_p \\
        1 - (t - T_r - T_p) / T_f & T_r + T_p \le t \le T_r + T_p + T_f
    \end{cases}

so that the volume above the base flow is :math:`V = (Q_p - Q_b)(T_r/2 + T_p + T_f/2)`. The rise
takes the fraction ``rise_fraction`` of the triangle's base :math:`T_r + T_f`: 1/3 by default;
the NRCS triangular unit hydrograph uses :math:`T_r/(T_r+T_f) = 1/2.67 \approx 0.375` (USDA
NRCS, *National Engineering Handbook* Part 630, ch. 16, 2007). The plateau represents a peak
held for some time, as in Shimenzi's largest recorded flood (162 m³/s held for 15 minutes).
Chinese practice scales a typical flood to the design peak and volumes (SL 44-2006, *Regulation
for calculating design flood of water resources and hydropower projects*); this simple shape is
for drills and for sites without a typical flood.

Sampling: the rise and the plateau are rounded to whole steps, so that the peak is a sample and
the rising limb is exact; the recession length :math:`T_f` is then solved so that the
trapezoidal volume of the *samples* (what a routing integrates) equals :math:`V` to rounding.
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from shuian.errors import InvalidRequestError

FloatArray = NDArray[np.float64]

_brentq: Any = importlib.import_module("scipy.optimize").brentq

__all__ = ["design_hydrograph"]


def _recession(height: float, length: float, dt: float) -> FloatArray:
    """Samples of a linear recession from ``height`` to 0 over ``length``, ending at 0."""
    count = math.ceil(length / dt - 1e-12)
    k = np.arange(count + 1, dtype=np.float64)
    return np.asarray(height * np.clip(1.0 - k * dt / length, 0.0, None), dtype=np.float64)


def _trapezoid_area(samples: FloatArray, dt: float) -> float:
    return float((np.sum(samples) - 0.5 * (samples[0] + samples[-1])) * dt)


def design_hydrograph(
    peak: float,
    volume: float,
    dt_s: float,
    *,
    plateau_s: float = 0.0,
    rise_fraction: float = 1.0 / 3.0,
    base: float = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """A triangular or trapezoidal flood hydrograph with a given peak and volume.

    Parameters
    ----------
    peak : float
        Peak flow :math:`Q_p` (m³/s), base flow included.
    volume : float
        Flood volume above the base flow :math:`V` (m³).
    dt_s : float
        Step (s).
    plateau_s : float, default 0
        How long the peak is held :math:`T_p` (s), rounded to whole steps.
    rise_fraction : float, default 1/3
        :math:`T_r / (T_r + T_f)`, in (0, 1).
    base : float, default 0
        Base flow :math:`Q_b` (m³/s) before and after the flood.

    Returns
    -------
    times_s, flows : ndarray
        Times from the start (s), every ``dt_s``, and flows (m³/s), from the base flow at
        :math:`t = 0` back to the base flow at the end.

    Raises
    ------
    InvalidRequestError
        If the volume cannot hold the plateau and a rise and recession of at least one step.

    Notes
    -----
    The volume of the samples, ``numpy.trapezoid(flows - base, times_s)``, equals ``volume``
    to about 1e-12 relative; ``flows.max() == peak``.
    """
    height = float(peak) - float(base)
    dt = float(dt_s)
    if not (height > 0 and volume > 0 and dt > 0):
        raise InvalidRequestError(
            f"design flood: need peak ({peak:g}) > base ({base:g}), volume ({volume:g} m³) > 0 "
            f"and step ({dt_s:g} s) > 0"
        )
    if not 0 < rise_fraction < 1:
        raise InvalidRequestError(
            f"design flood: rise_fraction {rise_fraction:g} must lie between 0 and 1"
        )
    plateau = round(plateau_s / dt) * dt
    triangle_base = 2.0 * (volume / height - plateau)
    if triangle_base < 2 * dt:
        raise InvalidRequestError(
            f"design flood: a volume of {volume:g} m³ cannot hold a peak of {height:g} m³/s "
            f"above the base for {plateau:g} s plus a rise and a recession of at least one step "
            f"({dt:g} s); give a larger volume, a shorter plateau or a shorter step"
        )
    rise = max(1, round(rise_fraction * triangle_base / dt)) * dt
    rest = volume - height * (0.5 * rise + plateau)
    if rest <= 0.5 * height * dt:
        raise InvalidRequestError(
            f"design flood: after a rise of {rise:g} s and a plateau of {plateau:g} s the "
            f"volume left for the recession ({rest:g} m³) is under one step; lower "
            "rise_fraction or the step"
        )

    def excess(length: float) -> float:
        return _trapezoid_area(_recession(height, length, dt), dt) - rest

    guess = 2.0 * rest / height
    length = float(_brentq(excess, max(guess - dt, dt), guess + dt, xtol=1e-12 * guess, rtol=1e-15))
    n_rise = round(rise / dt)
    n_plateau = round(plateau / dt)
    rising = height * np.arange(n_rise, dtype=np.float64) / n_rise
    held = np.full(n_plateau, height)
    shape = np.concatenate([rising, held, _recession(height, length, dt)])
    times = np.arange(shape.size, dtype=np.float64) * dt
    return times, np.asarray(base + shape, dtype=np.float64)

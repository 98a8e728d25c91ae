"""Plumb lines: normal (hanging) and inverted (anchored) pendulums read by coordinometers.

A coordinometer at a measuring station reads the position of the pendulum wire along two axes:

- **radial** (x): upstream-downstream, **positive downstream**;
- **tangential** (y): bank to bank, **positive toward the left bank** (the bank on the left of
  an observer looking downstream), as is Chinese practice.

Displacements are changes since the initial reading, in the reading's units (usually mm).

A *normal pendulum* hangs from a point high in the dam; its coordinometer at a lower station
shows how the suspension point has moved relative to the station. An *inverted pendulum* is
anchored deep in the foundation and floats upward; its wire stays put, so its coordinometer
shows how the station has moved relative to the (fixed) anchor: an absolute displacement. The
``sign`` of :func:`displacement` maps the instrument's scale onto the dam convention above:
``+1`` when a larger reading means the quantity moved in the positive direction, ``-1``
otherwise (for example an inverted pendulum read on a scale fixed to the station, where the
station moving downstream makes the wire appear to move upstream).

Source: Chinese dam monitoring practice for plumb lines (DL/T 5178 for concrete dams,
SL 601); the sign conventions are documented here because the site file must state them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def displacement(
    reading: ArrayLike, initial_reading: ArrayLike, *, sign: float = 1.0
) -> NDArray[np.float64]:
    r"""Displacement along one coordinometer axis since the initial reading.

    Parameters
    ----------
    reading : array_like
        Current coordinometer reading on one axis (radial or tangential), mm.
    initial_reading : array_like
        Initial (reference) reading on the same axis, mm.
    sign : {1.0, -1.0}, default 1.0
        Orientation of the instrument's scale relative to the dam convention (radial positive
        downstream, tangential positive toward the left bank); see the module docstring.

    Returns
    -------
    numpy.ndarray
        Displacement, mm, in the dam convention.

    Raises
    ------
    ValueError
        If ``sign`` is not +1 or -1.

    Notes
    -----
    .. math:: \delta = s\,(r - r_0), \qquad s \in \{+1, -1\}
    """
    if sign not in (1.0, -1.0):
        raise ValueError(
            f"plumb-line sign must be +1 or -1, got {sign!r}: use +1 when a larger reading "
            "means movement downstream (radial) or toward the left bank (tangential), else -1"
        )
    r = np.asarray(reading, dtype=np.float64)
    r0 = np.asarray(initial_reading, dtype=np.float64)
    result = sign * (r - r0)
    return np.asarray(result, dtype=np.float64)


def absolute_displacement(
    normal_relative: ArrayLike, inverted_anchor: ArrayLike
) -> NDArray[np.float64]:
    r"""Absolute displacement of a normal pendulum's suspension point, chained on an inverted one.

    Parameters
    ----------
    normal_relative : array_like
        Displacement of the normal pendulum's suspension point *relative to* its measuring
        station, mm, in the dam convention (from :func:`displacement`).
    inverted_anchor : array_like
        Displacement of the same measuring station relative to the inverted pendulum's
        foundation anchor (taken as fixed), mm, in the dam convention, on the same axis and
        read at the same time.

    Returns
    -------
    numpy.ndarray
        Absolute displacement of the suspension point, mm, in the dam convention.

    Notes
    -----
    Displacements along a chain add when each is expressed as "upper point relative to lower
    point" in one sign convention:

    .. math:: \delta_{top} = \delta_{top/station} + \delta_{station/anchor}

    Several normal pendulums stacked above one inverted pendulum chain the same way, station by
    station.
    """
    normal = np.asarray(normal_relative, dtype=np.float64)
    anchor = np.asarray(inverted_anchor, dtype=np.float64)
    result = normal + anchor
    return np.asarray(result, dtype=np.float64)

"""Precise levelling: settlement of surface and gallery benchmarks."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def settlement_mm(elevation_m: ArrayLike, initial_elevation_m: ArrayLike) -> NDArray[np.float64]:
    r"""Settlement of a levelling benchmark since its first survey.

    Parameters
    ----------
    elevation_m : array_like
        Current elevation of the benchmark, m.
    initial_elevation_m : array_like
        Elevation at the first (reference) survey, m.

    Returns
    -------
    numpy.ndarray
        Settlement, mm; positive when the benchmark has moved down, negative for heave.

    Notes
    -----
    .. math:: S = 1000\,(z_0 - z)

    Source: the vertical-displacement sign convention of Chinese dam monitoring practice
    (settlement positive downward), as in Shuian's DESIGN.md domain notes.

    Examples
    --------
    >>> round(float(settlement_mm(99.9955, 100.0)), 3)
    4.5
    """
    z = np.asarray(elevation_m, dtype=np.float64)
    z0 = np.asarray(initial_elevation_m, dtype=np.float64)
    result = (z0 - z) * 1000.0
    return np.asarray(result, dtype=np.float64)

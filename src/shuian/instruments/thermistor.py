"""Thermistors: resistance to temperature by the Steinhart-Hart equation.

Vibrating-wire gauges carry a 3 kOhm NTC thermistor (YSI 44005, Dale 41C3001 B3, Alpha 13A3001
B3 or equivalent) to measure their own temperature. The default constants are those the makers
publish for that thermistor over -50 to +150 degC; other thermistors carry their own constants,
some with a fifth-power term (Geokon's 10 kOhm U.S. Sensor 103JL1A uses ``D``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: 0 degC in kelvin.
KELVIN_AT_0C = 273.15


def steinhart_hart(
    resistance_ohm: ArrayLike,
    *,
    a: float = 1.4051e-3,
    b: float = 2.369e-4,
    c: float = 1.019e-7,
    d: float = 0.0,
) -> NDArray[np.float64]:
    r"""Convert thermistor resistance to temperature.

    Parameters
    ----------
    resistance_ohm : array_like
        Thermistor resistance, ohm. Non-positive values (open or shorted readings mapped to 0
        or below by a logger) give NaN rather than an exception, so one bad reading does not
        stop a batch.
    a, b, c, d : float
        Steinhart-Hart constants, 1/K. Defaults: the 3 kOhm YSI 44005 / Dale 41C3001
        constants ``A = 1.4051e-3``, ``B = 2.369e-4``, ``C = 1.019e-7``, ``D = 0``.

    Returns
    -------
    numpy.ndarray
        Temperature, degC.

    Notes
    -----
    .. math:: \frac{1}{T} = A + B \ln R + C (\ln R)^3 + D (\ln R)^5

    with ``T`` in kelvin; the result is ``T - 273.15``. Makers' manuals print the last step as
    ``- 273.2``; that rounding shifts every value by 0.05 degC, and Shuian uses the exact
    offset.

    Sources: Steinhart, J. S. and Hart, S. R. (1968), "Calibration curves for thermistors",
    *Deep-Sea Research* 15, 497-503. Constants: Geokon manuals, Appendix B "Thermistor
    Temperature Derivation" (type YSI 44005, Dale 41C3001 B3, Alpha 13A3001 B3); RST
    Instruments VW2100 manual, Appendix E, equation E-1 (same constants, "calculated over the
    -50 to +150 degC span").

    Examples
    --------
    >>> round(float(steinhart_hart(3000.0)), 2)
    24.99
    """
    r = np.asarray(resistance_ohm, dtype=np.float64)
    ln_r = np.log(np.where(r > 0.0, r, np.nan))
    ln_r3 = ln_r**3
    inverse_t = a + b * ln_r + c * ln_r3 + d * ln_r3 * ln_r * ln_r
    result = 1.0 / inverse_t - KELVIN_AT_0C
    return np.asarray(result, dtype=np.float64)

"""Differential-resistance (Carlson) gauges: strain, joint, stress and pore-pressure meters.

A Carlson gauge holds two steel wires, one stretched and one relaxed by the measured quantity.
A bridge reads two numbers: the *resistance ratio* ``Z = R1/R2`` (in units of 0.01 %, so
``Z = 10057`` means 100.57 %) and the *total resistance* ``Rt = R1 + R2`` (ohm). The ratio
gives the measured quantity; the total resistance, which varies with temperature only, gives the
gauge's temperature, used both for the thermal correction and as a thermometer in its own right.

Each gauge's calibration sheet gives: minimum reading ``f`` (units per 0.01 %), temperature
correction coefficient ``b`` (units per degC), temperature constant ``alpha`` (degC per ohm)
above 0 degC and, for some makers, a separate ``alpha''`` below 0 degC, and the 0 degC
resistance ``R0'``.

Sources: the data-reduction formulas for differential-resistance instruments in Chinese dam
monitoring practice (DL/T 5178 for concrete dams; SL 551 for embankment dams) and the makers'
manuals (Nanjing Automation Research Institute, e.g. DI-25 strain gauge, CF joint meter).
Resistances are assumed already corrected for lead resistance (five-wire or four-wire reading).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def temperature_from_resistance(
    resistance_ohm: ArrayLike,
    *,
    alpha: ArrayLike,
    zero_resistance: ArrayLike,
    alpha_below_zero: ArrayLike | None = None,
) -> NDArray[np.float64]:
    r"""Gauge temperature from the total resistance of a differential-resistance gauge.

    Parameters
    ----------
    resistance_ohm : array_like
        Measured total resistance ``Rt = R1 + R2``, ohm, corrected for lead resistance.
    alpha : array_like
        Temperature constant ``alpha'`` above 0 degC, degC per ohm.
    zero_resistance : array_like
        Resistance at 0 degC ``R0'`` (ice-point resistance), ohm.
    alpha_below_zero : array_like, optional
        Temperature constant ``alpha''`` below 0 degC, degC per ohm, where the calibration
        sheet gives one. When omitted, ``alpha`` is used on both sides of 0 degC.

    Returns
    -------
    numpy.ndarray
        Temperature ``T``, degC.

    Notes
    -----
    .. math::

        T = \begin{cases}
            \alpha' (R_t - R_0') & R_t \ge R_0' \\
            \alpha'' (R_t - R_0') & R_t < R_0'
        \end{cases}

    Source: Chinese dam monitoring practice for differential-resistance instruments
    (DL/T 5178, SL 551, makers' manuals). Worked example: a differential-resistance rebar meter
    with ``R0' = 53.40`` ohm, ``alpha' = 6.90`` degC/ohm and ``Rt = 55.40`` ohm reads
    13.80 degC.
    """
    rt = np.asarray(resistance_ohm, dtype=np.float64)
    r0 = np.asarray(zero_resistance, dtype=np.float64)
    a_above = np.asarray(alpha, dtype=np.float64)
    a_below = a_above if alpha_below_zero is None else np.asarray(alpha_below_zero, np.float64)
    dr = rt - r0
    # A NaN reading fails the comparison and takes the alpha'' branch, which keeps it NaN.
    result = np.where(dr >= 0.0, a_above * dr, a_below * dr)
    return np.asarray(result, dtype=np.float64)


def measured_value(
    ratio: ArrayLike,
    temperature: ArrayLike,
    *,
    minimum_reading: ArrayLike,
    zero_ratio: ArrayLike,
    temperature_coefficient: ArrayLike,
    zero_temperature: ArrayLike,
) -> NDArray[np.float64]:
    """Measured quantity of a differential-resistance gauge from its resistance ratio.

    Parameters
    ----------
    ratio : array_like
        Resistance ratio ``Z``, in units of 0.01 % (``10057`` means 100.57 %).
    temperature : array_like
        Gauge temperature ``T``, degC (usually from :func:`temperature_from_resistance`).
    minimum_reading : array_like
        Minimum reading ``f`` (sensitivity), engineering units per 0.01 % of ratio: e.g.
        1e-6 per 0.01 % for strain, mm per 0.01 % for a joint meter, MPa per 0.01 % for a
        stress meter or piezometer.
    zero_ratio : array_like
        Reference (initial) ratio ``Z0``, 0.01 %.
    temperature_coefficient : array_like
        Temperature correction coefficient ``b``, engineering units per degC.
    zero_temperature : array_like
        Reference (initial) temperature ``T0``, degC.

    Returns
    -------
    numpy.ndarray
        Measured quantity ``Q`` (strain, opening, stress or pressure in the units of ``f``).

    Notes
    -----
    .. math:: Q = f (Z - Z_0) + b (T - T_0)

    For a strain gauge embedded in concrete this is the total measured strain; the strain net
    of the concrete's free thermal expansion uses ``b - alpha_c`` in place of ``b``.

    Source: Chinese dam monitoring practice for differential-resistance instruments
    (DL/T 5178, SL 551, makers' manuals). Worked example: a stress meter with
    ``f = 0.0198`` MPa/0.01 %, ``b = -0.01`` MPa/degC, ``Z0 = 9966``, ``Z = 10057``,
    ``T0 = 19.5`` degC and ``T = 12.6`` degC reads 1.87 MPa.
    """
    z = np.asarray(ratio, dtype=np.float64)
    t = np.asarray(temperature, dtype=np.float64)
    f = np.asarray(minimum_reading, dtype=np.float64)
    z0 = np.asarray(zero_ratio, dtype=np.float64)
    b = np.asarray(temperature_coefficient, dtype=np.float64)
    t0 = np.asarray(zero_temperature, dtype=np.float64)
    result = f * (z - z0) + b * (t - t0)
    return np.asarray(result, dtype=np.float64)

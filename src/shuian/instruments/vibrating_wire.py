"""Vibrating-wire gauges: piezometers, joint meters, strain gauges, pressure cells.

A vibrating-wire gauge reports the resonant frequency of a tensioned wire. Makers convert it to
*digits* (Geokon "B units"), which are proportional to the wire tension and hence, over the
working range, to the measured quantity. The calibration report of each gauge gives either a
linear gauge factor ``G`` or second-order polynomial coefficients ``A, B, C``, and a thermal
factor ``K``.

Sign convention: Shuian uses the form ``E = G (R1 - R0)`` throughout. Piezometers and pressure
cells whose digits *fall* as pressure rises carry a *negative* ``G`` on their calibration report
(Geokon prints it so). Makers that print the form ``G (R0 - R1)`` with a positive ``G`` (some
ITM/Soil and RST sheets) must be entered with ``G`` negated.

Units: the gauge factor (or ``A, B, C``) and ``K`` carry the unit of the engineering value
the calibration report prints: kPa on most metric reports, psi on US ones, sometimes bar or MPa
(Geokon prints its 4500 calibrations in either). The formulas below keep that unit;
:func:`pressure_to_head` takes it as a factor to kPa (:data:`KPA_PER_PSI`, :data:`KPA_PER_BAR`,
:data:`KPA_PER_MPA`), which the site file derives once from the calibration's ``unit`` key
(:mod:`shuian.site.conversions`).

Sources: Geokon, *Instruction Manual Model 4500 Series Vibrating Wire Piezometers*, section 6
"Data Reduction", Table 2 "Engineering Units Multiplication Factors" and Appendix C
"Improving the Accuracy of the Calculated Pressure"; Geokon, *Model 4580 Instruction Manual*,
section 4; Thompson, A. & Taylor, B. N. (2008), *Guide for the Use of the International System
of Units (SI)*, NIST Special Publication 811, Appendix B (conversion factors).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Unit weight of water, kPa per metre of head: rho_w * g = 1000 kg/m3 * 9.80665 m/s2.
WATER_UNIT_WEIGHT_KPA_PER_M = 9.80665
#: kPa in one psi (pound-force per square inch): 0.45359237 kg * 9.80665 m/s² / (0.0254 m)²
#: = 6.894757 kPa (NIST SP 811, Appendix B.8).
KPA_PER_PSI = 0.45359237 * 9.80665 / 0.0254**2 / 1000.0
#: kPa in one bar (1 bar = 100 kPa, exactly).
KPA_PER_BAR = 100.0
#: kPa in one MPa.
KPA_PER_MPA = 1000.0


def frequency_to_digits(frequency_hz: ArrayLike) -> NDArray[np.float64]:
    r"""Convert a vibrating-wire resonant frequency to reading units (digits).

    Parameters
    ----------
    frequency_hz : array_like
        Resonant frequency of the wire, Hz.

    Returns
    -------
    numpy.ndarray
        Reading ``R`` in digits (Geokon "B units"), i.e. Hz^2 / 1000.

    Notes
    -----
    .. math:: R = \frac{f^2}{1000} = \frac{10^{-3}}{T^2}

    with ``T`` the period in seconds. Source: Geokon Model 4500 manual, section 6.1,
    equation 1 ("a reading of 8000 digits corresponds to a period of 354 µs and a frequency
    of 2828 Hz"); Geokon Model 4580 manual, equation 1 (9000 digits = 3000 Hz).

    Examples
    --------
    >>> float(frequency_to_digits(3000.0))
    9000.0
    """
    f = np.asarray(frequency_hz, dtype=np.float64)
    return np.asarray(f * f / 1000.0, dtype=np.float64)


def _thermal_term(
    temperature: ArrayLike | None,
    zero_temperature: ArrayLike | None,
    thermal_factor: ArrayLike,
) -> NDArray[np.float64]:
    """Return ``K (T1 - T0)``; zero when no temperature is given."""
    if temperature is None:
        return np.zeros((), dtype=np.float64)
    if zero_temperature is None:
        raise ValueError(
            "thermal correction needs the temperature at the zero reading: "
            "temperature was given but zero_temperature is None; pass zero_temperature "
            "(T0, degC, from the installation or calibration report), or omit temperature "
            "to skip the correction"
        )
    t1 = np.asarray(temperature, dtype=np.float64)
    t0 = np.asarray(zero_temperature, dtype=np.float64)
    k = np.asarray(thermal_factor, dtype=np.float64)
    return k * (t1 - t0)


def linear(
    reading: ArrayLike,
    *,
    gauge_factor: ArrayLike,
    zero_reading: ArrayLike,
    temperature: ArrayLike | None = None,
    zero_temperature: ArrayLike | None = None,
    thermal_factor: ArrayLike = 0.0,
) -> NDArray[np.float64]:
    """Convert digits to engineering units with a linear gauge factor and thermal correction.

    Parameters
    ----------
    reading : array_like
        Current reading ``R1``, digits.
    gauge_factor : array_like
        Linear gauge factor ``G``, engineering units per digit (e.g. kPa/digit), signed as on
        the calibration report for the form ``G (R1 - R0)``.
    zero_reading : array_like
        Initial (zero) reading ``R0``, digits, taken at installation.
    temperature : array_like, optional
        Current gauge temperature ``T1``, degC. When omitted the thermal term is zero.
    zero_temperature : array_like, optional
        Temperature ``T0`` at the zero reading, degC. Required when ``temperature`` is given.
    thermal_factor : array_like, default 0.0
        Thermal factor ``K``, engineering units per degC.

    Returns
    -------
    numpy.ndarray
        Engineering value ``E`` (same units as ``G``).

    Raises
    ------
    ValueError
        If ``temperature`` is given without ``zero_temperature``.

    Notes
    -----
    .. math:: E = G (R_1 - R_0) + K (T_1 - T_0)

    Source: Geokon Model 4500 manual, section 6.1 equation 2 (``P = (R1 - R0) G``) and
    section 6.2 equation 3 (``P_T = (T1 - T0) K``, added to the pressure). Worked example in
    Appendix C: ``G = -0.1795`` kPa/digit, ``R0 = 9082``, ``R1 = 6749`` give 418.8 kPa.

    Examples
    --------
    >>> round(float(linear(6749, gauge_factor=-0.1795, zero_reading=9082)), 1)
    418.8
    """
    r1 = np.asarray(reading, dtype=np.float64)
    r0 = np.asarray(zero_reading, dtype=np.float64)
    g = np.asarray(gauge_factor, dtype=np.float64)
    result = g * (r1 - r0) + _thermal_term(temperature, zero_temperature, thermal_factor)
    return np.asarray(result, dtype=np.float64)


def polynomial_offset(zero_reading: ArrayLike, a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """Return the polynomial constant ``C`` that makes the engineering value zero at ``R0``.

    Parameters
    ----------
    zero_reading : array_like
        Field zero reading ``R0``, digits (or the calibration report's zero reading when no
        field zero exists).
    a : array_like
        Polynomial coefficient ``A``, engineering units per digit^2.
    b : array_like
        Polynomial coefficient ``B``, engineering units per digit.

    Returns
    -------
    numpy.ndarray
        ``C``, engineering units.

    Notes
    -----
    .. math:: C = -(A R_0^2 + B R_0)

    Source: Geokon Model 4500 manual, Appendix C: "The field value of C is calculated by
    inserting the initial field zero reading into the polynomial equation with the pressure,
    P, set to zero." The ``C`` printed on a calibration report belongs to the factory zero,
    temperature and barometric pressure; recompute it from the field zero at installation.
    """
    r0 = np.asarray(zero_reading, dtype=np.float64)
    a_ = np.asarray(a, dtype=np.float64)
    b_ = np.asarray(b, dtype=np.float64)
    result = -(a_ * r0 * r0 + b_ * r0)
    return np.asarray(result, dtype=np.float64)


def polynomial(
    reading: ArrayLike,
    *,
    a: ArrayLike,
    b: ArrayLike,
    c: ArrayLike,
    temperature: ArrayLike | None = None,
    zero_temperature: ArrayLike | None = None,
    thermal_factor: ArrayLike = 0.0,
) -> NDArray[np.float64]:
    """Convert digits to engineering units with a second-order polynomial and thermal correction.

    Parameters
    ----------
    reading : array_like
        Current reading ``R1``, digits.
    a, b, c : array_like
        Polynomial coefficients ``A`` (units/digit^2), ``B`` (units/digit), ``C`` (units).
        Use :func:`polynomial_offset` to derive ``C`` from the field zero reading so that the
        value is zero at ``R0`` (the maker's convention).
    temperature : array_like, optional
        Current gauge temperature ``T1``, degC. When omitted the thermal term is zero.
    zero_temperature : array_like, optional
        Temperature ``T0`` at the zero reading, degC. Required when ``temperature`` is given.
    thermal_factor : array_like, default 0.0
        Thermal factor ``K``, engineering units per degC.

    Returns
    -------
    numpy.ndarray
        Engineering value ``E`` (units of the calibration).

    Raises
    ------
    ValueError
        If ``temperature`` is given without ``zero_temperature``.

    Notes
    -----
    .. math:: E = A R_1^2 + B R_1 + C + K (T_1 - T_0)

    Unlike the linear form there is no ``(R1 - R0)``: the zero enters through ``C``, which
    Geokon computes from the zero reading so that ``E(R0) = 0``, i.e.
    ``C = -(A R0^2 + B R0)`` (see :func:`polynomial_offset`). Source: Geokon Model 4500
    manual, Appendix C, equation 8, and section 6.2 for the thermal term.
    """
    r1 = np.asarray(reading, dtype=np.float64)
    a_ = np.asarray(a, dtype=np.float64)
    b_ = np.asarray(b, dtype=np.float64)
    c_ = np.asarray(c, dtype=np.float64)
    result = (a_ * r1 + b_) * r1 + c_ + _thermal_term(temperature, zero_temperature, thermal_factor)
    return np.asarray(result, dtype=np.float64)


def pressure_to_head(
    pressure: ArrayLike, sensor_elevation_m: ArrayLike, *, kpa_per_unit: float = 1.0
) -> NDArray[np.float64]:
    r"""Convert piezometer pressure to piezometric head (water level elevation).

    Parameters
    ----------
    pressure : array_like
        Pore-water pressure at the sensor (gauge, i.e. above atmospheric), in the unit of
        the calibration: kPa unless ``kpa_per_unit`` says otherwise.
    sensor_elevation_m : array_like
        Elevation of the sensor's diaphragm, m (site datum).
    kpa_per_unit : float, default 1.0
        kPa in one unit of ``pressure``: 1 for kPa, :data:`KPA_PER_PSI` (6.894757) for psi,
        :data:`KPA_PER_BAR` (100) for bar, :data:`KPA_PER_MPA` (1000) for MPa.

    Returns
    -------
    numpy.ndarray
        Piezometric head, m (same datum as ``sensor_elevation_m``).

    Notes
    -----
    .. math:: h = \frac{u\,p}{\rho_w g} + z, \qquad \rho_w g = 9.80665\ \mathrm{kPa/m}

    with :math:`u` = ``kpa_per_unit``, water density 1000 kg/m3 and standard gravity
    9.80665 m/s2: 1 kPa = 0.10197 m of water, the factor in Geokon's engineering-units table
    (Model 4500 manual, Table 2), and 1 psi = 6.894757 kPa = 0.70307 m. (The same table
    prints 0.70432 m per psi, water of about 998 kg/m3; its note calls the water factors
    approximations. Shuian uses 1000 kg/m3 for every unit, so that a gauge's psi and kPa
    calibrations give the same head.)

    Examples
    --------
    >>> float(pressure_to_head(98.0665, 1250.0))  # 98.0665 kPa is 10 m of water
    1260.0
    >>> round(float(pressure_to_head(100.0, 0.0, kpa_per_unit=KPA_PER_PSI)), 3)  # 100 psi
    70.307
    """
    p = np.asarray(pressure, dtype=np.float64)
    z = np.asarray(sensor_elevation_m, dtype=np.float64)
    result = p * kpa_per_unit / WATER_UNIT_WEIGHT_KPA_PER_M + z
    return np.asarray(result, dtype=np.float64)

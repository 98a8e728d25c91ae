"""Steinhart-Hart thermistor conversion against published table values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shuian.instruments.thermistor import steinhart_hart


def test_3000_ohm_is_25_degc_for_the_ysi_44005_constants() -> None:
    # YSI 44005 / Dale 41C3001 is a 3000 ohm at 25 degC thermistor; the Geokon and RST
    # (VW2100 manual, Appendix E) thermistor tables list 3000 ohm at 25 degC. With the
    # published constants A = 1.4051e-3, B = 2.369e-4, C = 1.019e-7 and 273.15 K the fit
    # gives 24.99 degC (the constants fit -50..+150 degC, not this one point).
    assert float(steinhart_hart(3000.0)) == pytest.approx(25.0, abs=0.01)


def test_keithley_2700_worked_example_for_ysi_44007() -> None:
    # Keithley Model 2700 User's Manual, Appendix F, "Example": a Series 44007 thermistor
    # measuring 5 kOhm with A = 0.001288, B = 0.0002356, C = 9.557e-8 gives 298.15 K = 25 degC
    # (the manual rounds the intermediate sums; the unrounded result is 25.03 degC).
    t = steinhart_hart(5000.0, a=0.001288, b=0.0002356, c=9.557e-8)
    assert float(t) == pytest.approx(25.0, abs=0.05)


def test_fifth_power_term_is_used() -> None:
    # Geokon 103JL1A thermistor (10 kOhm at 25 degC), constants from Geokon's 8002-4-1 manual,
    # Appendix "Thermistor Temperature Derivation", with its table value 10000 ohm = 25 degC.
    t = steinhart_hart(
        10000.0,
        a=1.12766979300187e-3,
        b=2.34444184128213e-4,
        c=8.47692130592308e-8,
        d=1.17512193579615e-11,
    )
    assert float(t) == pytest.approx(25.0, abs=0.05)


def test_hand_check_of_the_formula() -> None:
    # Hand evaluation: ln 3000 = 8.006368; 1/T = 1.4051e-3 + 2.369e-4 * 8.006368
    # + 1.019e-7 * 8.006368^3 = 3.354100e-3 K^-1; T = 298.1425 K = 24.9925 degC.
    ln_r = math.log(3000.0)
    expected = 1.0 / (1.4051e-3 + 2.369e-4 * ln_r + 1.019e-7 * ln_r**3) - 273.15
    assert float(steinhart_hart(3000.0)) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(24.9925, abs=1e-3)


def test_non_positive_resistance_gives_nan_not_an_exception() -> None:
    t = steinhart_hart(np.array([3000.0, 0.0, -5.0, np.nan]))
    assert np.isfinite(t[0])
    assert np.isnan(t[1:]).all()

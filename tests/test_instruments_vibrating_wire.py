"""Vibrating-wire conversions against Geokon's worked examples."""

from __future__ import annotations

import numpy as np
import pytest

from shuian.instruments import vibrating_wire as vw


def test_digits_are_frequency_squared_over_1000() -> None:
    # Geokon Model 4580 manual, section 4.1: "9000 digits ... a frequency of 3000 Hz".
    assert float(vw.frequency_to_digits(3000.0)) == 9000.0
    # Geokon Model 4500 manual, section 6.1: "8000 digits corresponds to ... 2828 Hz"
    # (2828 Hz is the rounded frequency: 2828^2/1000 = 7997.6).
    assert float(vw.frequency_to_digits(2828.0)) == pytest.approx(8000.0, rel=5e-4)


def test_linear_gauge_factor_matches_geokon_4500_appendix_c() -> None:
    # Geokon Model 4500 manual, Appendix C: G(R1 - R0) = -0.1795 (6749 - 9082) gives a
    # calculated pressure of 418.8 kPa.
    p = vw.linear(6749.0, gauge_factor=-0.1795, zero_reading=9082.0)
    assert float(p) == pytest.approx(418.8, abs=0.05)


def test_linear_gauge_factor_matches_geokon_4800_appendix_e() -> None:
    # Geokon Model 4800 earth pressure cell manual, Appendix E: G(R1 - R0) =
    # -0.1192 (7223 - 8983) gives a calculated pressure of 209.8 kPa.
    p = vw.linear(7223.0, gauge_factor=-0.1192, zero_reading=8983.0)
    assert float(p) == pytest.approx(209.8, abs=0.05)


def test_thermal_correction_matches_geokon_4500al_example() -> None:
    # Geokon Model 4500AL manual, section 6.2: initial temperature 22 degC, current 15 degC,
    # thermal factor K = +0.1319 kPa/degC: correction = 0.1319 (15 - 22) = -0.92 kPa.
    # At the zero reading the pressure term is zero, so E is the correction alone.
    e = vw.linear(
        8000.0,
        gauge_factor=-0.1795,
        zero_reading=8000.0,
        temperature=15.0,
        zero_temperature=22.0,
        thermal_factor=0.1319,
    )
    assert float(e) == pytest.approx(-0.92, abs=0.005)


def test_thermal_correction_is_added_to_the_linear_pressure() -> None:
    # Geokon 4500 Appendix C pressure plus the 4500AL correction: 418.8 - 0.92 kPa.
    e = vw.linear(
        6749.0,
        gauge_factor=-0.1795,
        zero_reading=9082.0,
        temperature=15.0,
        zero_temperature=22.0,
        thermal_factor=0.1319,
    )
    assert float(e) == pytest.approx(-0.1795 * (6749 - 9082) + 0.1319 * (15 - 22))


def test_no_temperature_means_no_thermal_term() -> None:
    e = vw.linear(6749.0, gauge_factor=-0.1795, zero_reading=9082.0, thermal_factor=0.1319)
    assert float(e) == pytest.approx(-0.1795 * (6749 - 9082))


def test_temperature_without_zero_temperature_is_refused() -> None:
    with pytest.raises(ValueError, match="zero_temperature"):
        vw.linear(6749.0, gauge_factor=-0.1795, zero_reading=9082.0, temperature=15.0)
    with pytest.raises(ValueError, match="zero_temperature"):
        vw.polynomial(6749.0, a=0.0, b=-0.1795, c=0.0, temperature=15.0)


def test_polynomial_hand_example() -> None:
    # Hand example (no maker's example prints A and B together with a result): A = -1e-7
    # kPa/digit^2, B = -0.17 kPa/digit, field zero R0 = 9000 digits.
    # C = -(A R0^2 + B R0) = -(-8.1 - 1530) = 1538.1 kPa.
    # At R1 = 7000: -1e-7 * 49e6 - 0.17 * 7000 + 1538.1 = -4.9 - 1190 + 1538.1 = 343.2 kPa.
    c = vw.polynomial_offset(9000.0, -1e-7, -0.17)
    assert float(c) == pytest.approx(1538.1)
    e = vw.polynomial(7000.0, a=-1e-7, b=-0.17, c=c)
    assert float(e) == pytest.approx(343.2)


def test_polynomial_offset_makes_the_zero_reading_read_zero() -> None:
    # Geokon Model 4500 manual, Appendix C: "The field value of C is calculated by inserting
    # the initial field zero reading into the polynomial equation with the pressure, P, set
    # to zero."
    a, b, r0 = 3.2e-8, -0.1822, 9082.0
    c = vw.polynomial_offset(r0, a, b)
    assert float(vw.polynomial(r0, a=a, b=b, c=c)) == pytest.approx(0.0, abs=1e-9)


def test_polynomial_with_no_curvature_is_the_linear_form() -> None:
    readings = np.array([9082.0, 8000.0, 6749.0])
    g, r0 = -0.1795, 9082.0
    poly = vw.polynomial(
        readings,
        a=0.0,
        b=g,
        c=vw.polynomial_offset(r0, 0.0, g),
        temperature=15.0,
        zero_temperature=22.0,
        thermal_factor=0.1319,
    )
    lin = vw.linear(
        readings,
        gauge_factor=g,
        zero_reading=r0,
        temperature=15.0,
        zero_temperature=22.0,
        thermal_factor=0.1319,
    )
    np.testing.assert_allclose(poly, lin)


def test_pressure_to_head_uses_the_unit_weight_of_water() -> None:
    # Geokon Model 4500 manual, Table 2: 1 kPa = 0.10197 m H2O (rho_w g = 9.80665 kPa/m).
    assert float(vw.pressure_to_head(1.0, 0.0)) == pytest.approx(0.10197, abs=5e-6)
    # Hand example: 98.0665 kPa on a diaphragm at 1250.00 m is 10 m of water: head 1260.00 m.
    assert float(vw.pressure_to_head(98.0665, 1250.0)) == pytest.approx(1260.0)


# --- pressure units of a calibration ----------------------------------------------------------


def test_the_pressure_unit_factors_are_the_si_ones() -> None:
    # NIST SP 811, Appendix B: 1 psi = 6.894 757 kPa; 1 bar = 100 kPa; 1 MPa = 1000 kPa.
    assert vw.KPA_PER_PSI == pytest.approx(6.894757, abs=5e-7)
    assert vw.KPA_PER_BAR == 100.0
    assert vw.KPA_PER_MPA == 1000.0


def test_a_psi_pressure_gives_the_head_of_the_same_pressure_in_kpa() -> None:
    # Geokon Model 4500 manual, Appendix C: 418.8 kPa. The same pressure in psi, bar and MPa
    # is 418.8 / 6.894757 = 60.742 psi, 4.188 bar, 0.4188 MPa: 42.706 m of water every time.
    head = 418.8 / 9.80665
    assert float(vw.pressure_to_head(418.8, 0.0)) == pytest.approx(head)
    assert float(vw.pressure_to_head(418.8 / vw.KPA_PER_PSI, 0.0,
                                     kpa_per_unit=vw.KPA_PER_PSI)) == pytest.approx(head)
    assert float(vw.pressure_to_head(4.188, 0.0, kpa_per_unit=vw.KPA_PER_BAR)) == (
        pytest.approx(head))
    assert float(vw.pressure_to_head(0.4188, 0.0, kpa_per_unit=vw.KPA_PER_MPA)) == (
        pytest.approx(head))


def test_a_psi_gauge_factor_gives_psi_geokon_4580() -> None:
    # Geokon Model 4580 manual, section 4.1: R0 = 2509, R1 = 7023, G = -0.0001954 psi/digit:
    # (7023 - 2509) x -0.0001954 = -0.882 psi (the manual prints its size, 0.882 psi), which
    # is -6.081 kPa, -0.620 m of water.
    p = vw.linear(7023.0, gauge_factor=-0.0001954, zero_reading=2509.0)
    assert float(p) == pytest.approx(-0.882, abs=5e-4)
    head = vw.pressure_to_head(p, 100.0, kpa_per_unit=vw.KPA_PER_PSI)
    assert float(head) == pytest.approx(100.0 - 0.882 * 6.894757 / 9.80665, abs=5e-4)

"""Differential-resistance (Carlson) gauge conversions."""

from __future__ import annotations

import numpy as np
import pytest

from shuian.instruments import carlson


def test_temperature_from_total_resistance_rebar_meter_example() -> None:
    # Worked exam problem (Chinese dam monitoring qualification exam, differential-resistance
    # rebar meter): ice-point resistance R0' = 53.40 ohm, temperature constant 6.90 degC/ohm,
    # corrected total resistance Rt = 55.40 ohm: t = 6.9 (55.40 - 53.40) = 13.80 degC.
    t = carlson.temperature_from_resistance(55.40, alpha=6.90, zero_resistance=53.40)
    assert float(t) == pytest.approx(13.80)


def test_separate_constant_below_zero_degc() -> None:
    # Hand example: alpha' = 5.00 degC/ohm above 0 degC, alpha'' = 5.20 below, R0' = 50.00 ohm.
    # Rt = 51.00 -> 5.00 degC; Rt = 49.00 -> -5.20 degC; Rt = R0' -> 0 degC.
    t = carlson.temperature_from_resistance(
        np.array([51.0, 49.0, 50.0]), alpha=5.0, zero_resistance=50.0, alpha_below_zero=5.2
    )
    np.testing.assert_allclose(t, [5.0, -5.2, 0.0])


def test_without_alpha_below_zero_one_constant_serves_both_sides() -> None:
    t = carlson.temperature_from_resistance(np.array([51.0, 49.0]), alpha=5.0, zero_resistance=50.0)
    np.testing.assert_allclose(t, [5.0, -5.0])


def test_measured_value_stress_meter_example() -> None:
    # Worked exam problem (Chinese dam monitoring, differential-resistance stress meter):
    # f = 0.0198 MPa/0.01 %, b = -0.01 MPa/degC, Z0 = 9966, Z = 10057, T0 = 19.5 degC and the
    # problem's temperature T = 12.6 degC give sigma = f (Z - Z0) + b (T - T0) = 1.87 MPa.
    # (The problem's own temperature step, 5.05 (70.70 - 67.56), does not reproduce its
    # 12.6 degC, so only the second step is used here, with T as the problem states it.)
    sigma = carlson.measured_value(
        10057.0,
        12.6,
        minimum_reading=0.0198,
        zero_ratio=9966.0,
        temperature_coefficient=-0.01,
        zero_temperature=19.5,
    )
    assert float(sigma) == pytest.approx(1.87, abs=0.005)


def test_measured_value_joint_meter_hand_example() -> None:
    # Hand example, joint meter: f = 0.0125 mm/0.01 %, b = 0.0300 mm/degC, Z0 = 10020,
    # T0 = 12.0 degC. Z = 10180, T = 8.0 degC:
    # J = 0.0125 * 160 + 0.03 * (8 - 12) = 2.000 - 0.120 = 1.880 mm (opening).
    j = carlson.measured_value(
        10180.0,
        8.0,
        minimum_reading=0.0125,
        zero_ratio=10020.0,
        temperature_coefficient=0.03,
        zero_temperature=12.0,
    )
    assert float(j) == pytest.approx(1.88)

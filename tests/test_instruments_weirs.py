"""Seepage-weir discharge formulas."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray

from shuian.instruments import weirs

FT = 0.3048  # m per ft
CFS = FT**3  # m3/s per ft3/s


def test_thomson_hand_example() -> None:
    # Hand example: H = 0.10 m -> Q = 1.4 * 0.1^2.5 = 1.4 * 0.0031623 = 0.0044272 m3/s.
    assert float(weirs.v_notch_thomson(0.10)) == pytest.approx(0.0044272, rel=1e-4)


def test_chinese_form_steps_its_coefficient_every_5_cm() -> None:
    # Hand examples: below 5 cm the coefficient is 0.0142, from 5 cm it is 0.0141.
    # H = 4.9 cm: 0.0142 * 4.9^2.5 = 0.0142 * 53.148 = 0.75471 L/s.
    # H = 5.0 cm: 0.0141 * 5^2.5 = 0.0141 * 55.902 = 0.78821 L/s.
    q = weirs.v_notch_chinese(np.array([4.9, 5.0]))
    np.testing.assert_allclose(q, [0.0142 * 4.9**2.5, 0.0141 * 5.0**2.5])
    np.testing.assert_allclose(q, [0.75471, 0.78821], rtol=1e-4)


def test_chinese_form_equals_thomson_at_10_cm() -> None:
    # At H = 10 cm the stepped coefficient is 0.0142 - 2 * 0.0001 = 0.0140, which is
    # Thomson's 1.4 (m, m3/s) written for cm and L/s: 1.4 * 0.01^2.5 * 1000 = 0.0140.
    q_l_s = float(weirs.v_notch_chinese(10.0))
    assert q_l_s == pytest.approx(float(weirs.v_notch_thomson(0.10)) * 1000.0, rel=1e-12)


@pytest.mark.parametrize("head_ft", [0.5, 1.0])
def test_kindsvater_shen_90_degrees_agrees_with_usbr_90_degree_equation(head_ft: float) -> None:
    # USBR Water Measurement Manual, chapter 7: the 90 degree V-notch equation
    # Q = 2.49 h^2.48 (ft, ft3/s), which the manual says gives accuracy comparable to the
    # Kindsvater-Shen relation for fully contracted 90 degree notches. At 0.5 ft:
    # 0.446 ft3/s; at 1.0 ft: 2.49 ft3/s. Kindsvater-Shen (Ce = 0.578, kh = 0.0029 ft)
    # gives 0.4435 and 2.4908 ft3/s.
    q_cfs = float(weirs.v_notch_kindsvater_shen(head_ft * FT)) / CFS
    assert q_cfs == pytest.approx(2.49 * head_ft**2.48, rel=0.01)


def test_kindsvater_shen_us_form_with_4_28() -> None:
    # USBR WMM equation 7-3 in US units: Q = 4.28 Ce tan(theta/2) (h1 + kh)^2.5. Hand
    # evaluation at h1 = 0.5 ft, 90 degrees: 4.28 * 0.578 * 1 * 0.5029^2.5 = 0.44346 ft3/s.
    expected_cfs = 4.28 * 0.578 * (0.5 + 0.0029) ** 2.5
    q_cfs = float(weirs.v_notch_kindsvater_shen(0.5 * FT)) / CFS
    # 4.28 is (8/15) sqrt(2g) rounded to three figures; the SI evaluation differs by < 0.1 %.
    assert q_cfs == pytest.approx(expected_cfs, rel=1e-3)


def test_kindsvater_shen_other_angles_need_their_coefficients() -> None:
    with pytest.raises(ValueError, match="figure 7-6"):
        weirs.v_notch_kindsvater_shen(0.1, angle_deg=60.0)
    # With equal Ce and kh, discharge scales with tan(theta/2): tan 30 deg / tan 45 deg.
    q60 = weirs.v_notch_kindsvater_shen(0.1, angle_deg=60.0, ce=0.578, kh_m=0.000884)
    q90 = weirs.v_notch_kindsvater_shen(0.1, ce=0.578, kh_m=0.000884)
    assert float(q60 / q90) == pytest.approx(math.tan(math.radians(30.0)))


def test_rectangular_units_agree_with_francis() -> None:
    # Francis's formula (SI, no end contractions): Q = 1.84 b H^1.5 (m, m3/s). b = 50 cm,
    # H = 10 cm: 1.84 * 0.5 * 0.1^1.5 = 0.029093 m3/s = 29.09 L/s. The cm/L/s form gives
    # 0.0186 * 50 * 10^1.5 = 29.41 L/s: the same formula with coefficient 1.86, 1.1 % higher.
    q = float(weirs.rectangular(10.0, 50.0))
    assert q == pytest.approx(29.41, abs=0.005)
    francis_l_s = 1.84 * 0.5 * 0.1**1.5 * 1000.0
    assert q / francis_l_s == pytest.approx(0.0186 / 0.0184, rel=1e-12)


def test_cipolletti_matches_the_usbr_us_units_formula() -> None:
    # USBR Water Measurement Manual, chapter 7, Cipolletti weir: Q = 3.367 L h^1.5 (ft, cfs).
    # L = 1 ft, h = 0.5 ft: 3.367 * 0.35355 = 1.1904 ft3/s = 0.033709 m3/s.
    q = float(weirs.cipolletti(0.5 * FT, 1.0 * FT))
    assert q == pytest.approx(3.367 * 0.5**1.5 * CFS, rel=2e-4)


@pytest.mark.parametrize(
    "discharge",
    [
        weirs.v_notch_thomson,
        weirs.v_notch_chinese,
        weirs.v_notch_kindsvater_shen,
        lambda h: weirs.rectangular(h, 50.0),
        lambda h: weirs.cipolletti(h, 0.5),
    ],
    ids=["thomson", "chinese", "kindsvater_shen", "rectangular", "cipolletti"],
)
def test_negative_head_gives_zero_flow_and_nan_stays_nan(
    discharge: Callable[[NDArray[np.float64]], NDArray[np.float64]],
) -> None:
    q = discharge(np.array([-0.5, 0.0, np.nan]))
    np.testing.assert_array_equal(q[:2], [0.0, 0.0])
    assert np.isnan(q[2])

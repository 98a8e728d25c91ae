"""Specification of the channel calibrations as the site file states them.

Each conversion kind, built from a site-file ``conversion:`` mapping through the site model,
turns whole arrays of raw readings into the values of the pure formulas in
:mod:`shuian.instruments`, with the units of the raw reading stated in the site file (weir gauge
readings in mm, results in L/s; vibrating-wire digits or Hz).
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from pydantic import TypeAdapter

from shuian.errors import SiteError
from shuian.instruments import carlson, levelling, plumb_line, thermistor, vibrating_wire, weirs
from shuian.services.demo import demo_site_text
from shuian.site import Channel, load_site, parse_site
from shuian.site import conversions as site_conversions
from shuian.site.conversions import Conversion, _Conversion, kpa_per_unit

RAW = np.array([8000.0, 8500.0, 9000.0, 9500.25])
TEMPERATURE = np.array([5.0, 12.5, 20.0, 31.0])


def conversion(**spec: Any) -> _Conversion:
    """The conversion of a channel whose site-file entry has ``conversion: spec``."""
    converted: _Conversion = TypeAdapter(Conversion).validate_python(spec)
    channel = Channel.model_validate(
        {"code": "X.a", "quantity": "q", "unit": converted.value_unit or "u", "conversion": spec}
    )
    return channel.conversion


#: A valid site-file mapping for every kind; the contract test below runs over all of them.
SAMPLES: dict[str, dict[str, Any]] = {
    "none": {"kind": "none"},
    "linear": {"kind": "linear", "scale": 0.25, "offset": -3.0},
    "vw_linear": {"kind": "vw_linear", "gauge_factor": -0.1, "zero_reading": 9000.0},
    "vw_polynomial": {"kind": "vw_polynomial", "a": 1e-7, "b": -0.05, "c": 400.0},
    "thermistor": {"kind": "thermistor"},
    "carlson_temperature": {"kind": "carlson_temperature", "alpha": 6.9,
                            "zero_resistance": 53.4},
    "carlson": {"kind": "carlson", "minimum_reading": 0.0198, "zero_ratio": 9966.0},
    "weir": {"kind": "weir", "form": "thomson_vnotch", "zero_reading": 20.0},
    "coordinometer": {"kind": "coordinometer", "initial_reading": 25.0},
    "levelling": {"kind": "levelling", "initial_elevation": 145.0},
}


def registered_kinds() -> set[str]:
    union = typing.get_args(Conversion)[0]
    return {typing.get_args(cls.model_fields["kind"].annotation)[0]
            for cls in typing.get_args(union)}


def test_every_conversion_kind_has_a_sample_here() -> None:
    assert registered_kinds() == set(SAMPLES)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_kind_converts_a_whole_array_to_float64_of_the_same_shape(kind: str) -> None:
    value = conversion(**SAMPLES[kind]).convert(RAW, TEMPERATURE)
    assert value.dtype == np.float64
    assert value.shape == RAW.shape


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_kind_keeps_a_nan_raw_reading_nan(kind: str) -> None:
    raw = np.array([np.nan, 9000.0])
    assert np.isnan(conversion(**SAMPLES[kind]).convert(raw, TEMPERATURE[:2])[0])


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="magic"):
        conversion(kind="magic")


def test_none_is_the_default_and_passes_values_through() -> None:
    channel = Channel.model_validate({"code": "X.a", "quantity": "q", "unit": "m"})
    assert_array_equal(channel.conversion.convert(RAW, None), RAW)


def test_linear_is_scale_times_raw_plus_offset() -> None:
    assert_array_equal(conversion(**SAMPLES["linear"]).convert(RAW, None), 0.25 * RAW - 3.0)


# --- vibrating wire -----------------------------------------------------------------------------


def test_vw_linear_in_digits() -> None:
    value = conversion(kind="vw_linear", gauge_factor=-0.1, zero_reading=9000.0).convert(RAW, None)
    assert_allclose(value, -0.1 * (RAW - 9000.0))
    assert_allclose(value, vibrating_wire.linear(RAW, gauge_factor=-0.1, zero_reading=9000.0))


def test_vw_linear_with_frequency_input_squares_hz_into_digits() -> None:
    hz = np.array([2800.0, 3000.0, 3100.0])
    value = conversion(kind="vw_linear", reading="frequency", gauge_factor=-0.1,
                       zero_reading=9000.0).convert(hz, None)
    assert_allclose(value, -0.1 * (hz**2 / 1000.0 - 9000.0))
    assert value[1] == pytest.approx(0.0, abs=1e-9)


def test_vw_linear_with_sensor_elevation_gives_piezometric_head() -> None:
    # The test site's P1.head: 8000 digits is 100 kPa above the sensor at 95 m.
    value = conversion(kind="vw_linear", gauge_factor=-0.1, zero_reading=9000.0,
                       sensor_elevation=95.0).convert(np.array([8000.0, 9000.0]), None)
    assert_allclose(value, [95.0 + 100.0 / 9.80665, 95.0])
    assert_allclose(value, vibrating_wire.pressure_to_head(
        vibrating_wire.linear(np.array([8000.0, 9000.0]), gauge_factor=-0.1,
                              zero_reading=9000.0), 95.0))


def test_vw_linear_thermal_correction_uses_the_temperature_column() -> None:
    spec = {"kind": "vw_linear", "gauge_factor": -0.1, "zero_reading": 9000.0,
            "thermal_factor": 0.5, "zero_temperature": 20.0}
    convert = conversion(**spec)
    assert convert.needs_temperature
    assert_allclose(convert.convert(RAW, TEMPERATURE),
                    -0.1 * (RAW - 9000.0) + 0.5 * (TEMPERATURE - 20.0))
    assert not conversion(**SAMPLES["vw_linear"]).needs_temperature


def test_vw_polynomial_matches_the_pure_formula_with_thermal_correction() -> None:
    spec = {"kind": "vw_polynomial", "a": 1e-7, "b": -0.05, "c": 400.0,
            "thermal_factor": -0.2, "zero_temperature": 18.0}
    value = conversion(**spec).convert(RAW, TEMPERATURE)
    assert_allclose(value, 1e-7 * RAW**2 - 0.05 * RAW + 400.0 - 0.2 * (TEMPERATURE - 18.0))
    assert_allclose(value, vibrating_wire.polynomial(
        RAW, a=1e-7, b=-0.05, c=400.0, temperature=TEMPERATURE, zero_temperature=18.0,
        thermal_factor=-0.2))


def test_vw_polynomial_with_frequency_and_sensor_elevation() -> None:
    hz = np.array([2800.0, 3000.0])
    value = conversion(kind="vw_polynomial", a=0.0, b=-0.1, c=900.0, reading="frequency",
                       sensor_elevation=50.0).convert(hz, None)
    kpa = -0.1 * vibrating_wire.frequency_to_digits(hz) + 900.0
    assert_allclose(value, vibrating_wire.pressure_to_head(kpa, 50.0))


# --- vibrating wire: the pressure unit of the calibration ------------------------------------

#: One gauge (Geokon 4500 manual, Appendix C: G = -0.1795 kPa/digit, R0 = 9082, R1 = 6749,
#: 418.8 kPa) with its calibration written in each unit a report uses.
KPA_PER = {"kPa": 1.0, "psi": 6.894757293168361, "bar": 100.0, "MPa": 1000.0}
GEOKON_HEAD = 1285.0 + (-0.1795 * (6749.0 - 9082.0)) / 9.80665  # 42.706 m over the diaphragm


@pytest.mark.parametrize("unit", sorted(KPA_PER))
def test_a_linear_calibration_in_any_pressure_unit_gives_the_same_head(unit: str) -> None:
    spec = {"kind": "vw_linear", "gauge_factor": -0.1795 / KPA_PER[unit], "zero_reading": 9082.0,
            "thermal_factor": 0.1319 / KPA_PER[unit], "zero_temperature": 22.0,
            "unit": unit, "sensor_elevation": 1285.0}
    value = conversion(**spec).convert(np.array([6749.0, 9082.0]), np.array([22.0, 15.0]))
    # The thermal term is in the calibration's unit too: 0.1319 kPa/degC x (15 - 22).
    assert_allclose(value, [GEOKON_HEAD, 1285.0 + 0.1319 * (15.0 - 22.0) / 9.80665],
                    rtol=1e-12)


@pytest.mark.parametrize("unit", sorted(KPA_PER))
def test_a_polynomial_calibration_in_any_pressure_unit_gives_the_same_head(unit: str) -> None:
    a, b, r0 = 3.2e-8, -0.1822, 9082.0
    c = float(vibrating_wire.polynomial_offset(r0, a, b))
    k = KPA_PER[unit]
    spec = {"kind": "vw_polynomial", "a": a / k, "b": b / k, "c": c / k, "unit": unit,
            "sensor_elevation": 1285.0}
    kpa = vibrating_wire.polynomial(np.array([6749.0, r0]), a=a, b=b, c=c)
    assert_allclose(conversion(**spec).convert(np.array([6749.0, r0]), None),
                    1285.0 + kpa / 9.80665, rtol=1e-12)


def test_without_a_unit_a_head_calibration_is_in_kpa_as_before_the_key_existed() -> None:
    base = {"kind": "vw_linear", "gauge_factor": -0.1, "zero_reading": 9000.0,
            "sensor_elevation": 95.0}
    default, explicit = conversion(**base), conversion(**base, unit="kPa")
    assert default.unit is None and default.kpa_per_unit == 1.0
    assert_array_equal(default.convert(RAW, None), explicit.convert(RAW, None))
    assert_allclose(default.convert(RAW, None), 95.0 + (-0.1 * (RAW - 9000.0)) / 9.80665)


def test_without_sensor_elevation_the_value_stays_in_the_calibrations_unit() -> None:
    # Geokon Model 4580 manual, section 4.1: (7023 - 2509) x -0.0001954 psi/digit = -0.882 psi.
    psi = conversion(kind="vw_linear", gauge_factor=-0.0001954, zero_reading=2509.0, unit="psi")
    assert float(psi.convert(np.array([7023.0]), None)[0]) == pytest.approx(-0.882, abs=5e-4)
    assert psi.value_unit == "psi"
    assert conversion(**SAMPLES["vw_linear"]).value_unit is None  # the channel's unit
    assert conversion(**SAMPLES["vw_linear"], sensor_elevation=1.0).value_unit == "m"


def test_the_unit_is_turned_into_a_factor_once_at_load_not_per_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    psi = conversion(kind="vw_linear", gauge_factor=-0.02603, zero_reading=9082.0, unit="psi",
                     sensor_elevation=0.0)
    assert psi.kpa_per_unit == pytest.approx(6.894757, abs=5e-7)

    def no_lookup(unit: str) -> float:
        raise AssertionError("the unit was looked up while converting")

    monkeypatch.setattr(site_conversions, "kpa_per_unit", no_lookup)
    raw = np.linspace(6000.0, 9500.0, 100_000)
    value = psi.convert(raw, None)
    assert value.shape == raw.shape
    assert_allclose(value, -0.02603 * (raw - 9082.0) * 6.894757293168361 / 9.80665)


@pytest.mark.parametrize(
    ("unit", "kpa"),
    [("psi", 6.894757), ("bar", 100.0), ("MPa", 1000.0), ("kPa", 1.0), ("Pa", 0.001),
     ("mbar", 0.1), ("kgf/cm^2", 98.0665), ("mH2O", 9.80665), ("lbf/in^2", 6.894757)],
)
def test_pressure_units_as_calibration_reports_print_them(unit: str, kpa: float) -> None:
    assert kpa_per_unit(unit) == pytest.approx(kpa, rel=1e-6)


@pytest.mark.parametrize(
    ("unit", "message"),
    [
        ("furlongs", "'furlongs' (furlong, [length]) is not a pressure unit"),
        ("mm", "'mm' (millimeter, [length]) is not a pressure unit"),
        ("degC", "is not a pressure unit"),
        ("kpa", "unknown unit 'kpa'; units are case-sensitive: write 'kPa'"),
        ("PSI", "unknown unit 'PSI'; units are case-sensitive: write 'psi'"),
        ("mPa", "units are case-sensitive: write 'MPa' for megapascal"),
        ("parsecs of water", "unknown unit 'parsecs of water'"),
        ("kPa)", "unknown unit 'kPa)'"),
    ],
)
def test_a_unit_that_is_not_a_pressure_is_a_site_file_error_at_its_line_and_key(
    tmp_path: Path, unit: str, message: str
) -> None:
    site = (Path(__file__).parent / "data" / "site.yaml").read_text(encoding="utf-8")
    marker = "zero_reading: 9000.0, sensor_elevation: 95.0}"
    assert site.count(marker) == 1
    line = site[: site.index(marker)].count("\n") + 1
    path = tmp_path / "gauges.yaml"
    path.write_text(site.replace(marker, marker[:-1] + f", unit: '{unit}'}}"), encoding="utf-8")
    with pytest.raises(SiteError) as caught:
        load_site(path)
    assert caught.value.source == str(path)
    assert str(caught.value).startswith(f"{path}: 1 problem(s)")
    [problem] = caught.value.problems
    assert re.match(rf"line {line}: instruments\[1\]\.channels\[0\]\.conversion\.unit: ",
                    problem), problem
    assert message in problem


def test_a_channel_whose_unit_is_not_what_its_calibration_gives_is_a_site_file_error(
    tmp_path: Path,
) -> None:
    site = (Path(__file__).parent / "data" / "site.yaml").read_text(encoding="utf-8")
    marker = "zero_reading: 9000.0, sensor_elevation: 95.0}"
    path = tmp_path / "psi.yaml"
    path.write_text(site.replace(marker, "zero_reading: 9000.0, unit: psi}"), encoding="utf-8")
    with pytest.raises(SiteError) as caught:
        load_site(path)
    [problem] = caught.value.problems
    assert re.match(r"line \d+: instruments\[1\]\.channels\[0\]: ", problem), problem
    assert "unit is 'm' but its conversion gives 'psi'" in problem and "set unit: psi" in problem


def test_the_demo_and_test_sites_keep_their_kpa_heads() -> None:
    # Written before the unit key: their piezometers' gauge factors are in kPa/digit.
    site = load_site(Path(__file__).parent / "data" / "site.yaml")
    [p1] = [c for c in site.channels() if c.code == "P1.head"]
    assert isinstance(p1.conversion, site_conversions.VibratingWireLinear)
    assert p1.conversion.unit is None
    assert_allclose(p1.conversion.convert(np.array([8000.0]), None), 95.0 + 100.0 / 9.80665)
    demo = parse_site(demo_site_text(), source="shimenzi.yaml")
    [pz1] = [c for c in demo.channels() if c.code == "PZ1"]
    assert isinstance(pz1.conversion, site_conversions.VibratingWireLinear)
    assert pz1.conversion.unit is None and pz1.conversion.kpa_per_unit == 1.0
    # -0.1538 kPa/digit x (8000 - 8862) = 132.6 kPa over the diaphragm at 1285 m: 1298.52 m.
    assert float(pz1.conversion.convert(np.array([8000.0]), None)[0]) == pytest.approx(
        1285.0 + 0.1538 * 862.0 / 9.80665
    )


# --- resistance gauges --------------------------------------------------------------------------


def test_thermistor_3000_ohm_is_about_25_degc() -> None:
    ohm = np.array([3000.0, 9800.0, 1000.0])
    value = conversion(kind="thermistor").convert(ohm, None)
    assert_allclose(value, thermistor.steinhart_hart(ohm))
    assert value[0] == pytest.approx(25.0, abs=0.05)


def test_thermistor_with_site_coefficients() -> None:
    coefficients = {"a": 1.1e-3, "b": 2.4e-4, "c": 1.5e-7, "d": 0.0}
    ohm = np.array([2000.0, 5000.0])
    assert_allclose(conversion(kind="thermistor", **coefficients).convert(ohm, None),
                    thermistor.steinhart_hart(ohm, **coefficients))


def test_a_negative_thermistor_resistance_gives_no_value() -> None:
    with np.errstate(all="ignore"):
        value = conversion(kind="thermistor").convert(np.array([-5.0]), None)
    assert np.isnan(value[0])


def test_carlson_temperature_worked_example_and_below_zero_alpha() -> None:
    convert = conversion(kind="carlson_temperature", alpha=6.9, zero_resistance=53.4,
                         alpha_below_zero=6.5)
    ohm = np.array([55.4, 52.4])
    assert_allclose(convert.convert(ohm, None), [13.8, -6.5])
    assert_allclose(convert.convert(ohm, None), carlson.temperature_from_resistance(
        ohm, alpha=6.9, zero_resistance=53.4, alpha_below_zero=6.5))


def test_carlson_worked_example_with_temperature() -> None:
    convert = conversion(kind="carlson", minimum_reading=0.0198, zero_ratio=9966.0,
                         temperature_coefficient=-0.01, zero_temperature=19.5)
    assert convert.needs_temperature
    value = convert.convert(np.array([10057.0]), np.array([12.6]))
    assert value[0] == pytest.approx(1.87, abs=0.005)
    assert_allclose(value, carlson.measured_value(
        [10057.0], [12.6], minimum_reading=0.0198, zero_ratio=9966.0,
        temperature_coefficient=-0.01, zero_temperature=19.5))


def test_carlson_without_temperature_coefficient_needs_no_temperature() -> None:
    convert = conversion(kind="carlson", minimum_reading=0.01, zero_ratio=10000.0)
    assert not convert.needs_temperature
    assert_allclose(convert.convert(np.array([10050.0]), None), [0.5])


def test_carlson_with_temperature_coefficient_and_no_temperature_gives_no_value() -> None:
    convert = conversion(kind="carlson", minimum_reading=0.01, zero_ratio=10000.0,
                         temperature_coefficient=0.02)
    assert np.isnan(convert.convert(np.array([10050.0]), None)[0])


# --- weirs: gauge reading (mm) to discharge (L/s) -----------------------------------------------

GAUGE_MM = np.array([20.0, 70.0, 120.0, 270.0])  # zero_reading 20 mm: heads 0, 50, 100, 250 mm
HEAD_M = (GAUGE_MM - 20.0) / 1000.0


def weir(form: str, **extra: Any) -> _Conversion:
    return conversion(kind="weir", form=form, zero_reading=20.0, **extra)


def test_thomson_vnotch() -> None:
    value = weir("thomson_vnotch").convert(GAUGE_MM, None)
    assert_allclose(value, weirs.v_notch_thomson(HEAD_M) * 1000.0)
    assert value[2] == pytest.approx(1.4 * 0.1**2.5 * 1000.0)  # 4.43 L/s at 100 mm


def test_sl_vnotch() -> None:
    value = weir("sl_vnotch").convert(GAUGE_MM, None)
    assert_allclose(value, weirs.v_notch_chinese(HEAD_M * 100.0))
    at_75_mm = weir("sl_vnotch").convert(np.array([95.0]), None)[0]
    assert at_75_mm == pytest.approx(0.0141 * 7.5**2.5)  # coefficient 0.0141 from 5 to 10 cm


def test_kindsvater_shen_90_degrees_and_other_angles() -> None:
    assert_allclose(weir("kindsvater_shen").convert(GAUGE_MM, None),
                    weirs.v_notch_kindsvater_shen(HEAD_M) * 1000.0)
    value = weir("kindsvater_shen", notch_angle=60.0, ce=0.576, kh=0.0012).convert(GAUGE_MM, None)
    assert_allclose(value, weirs.v_notch_kindsvater_shen(
        HEAD_M, angle_deg=60.0, ce=0.576, kh_m=0.0012) * 1000.0)


def test_kindsvater_shen_off_90_degrees_needs_ce_and_kh() -> None:
    with pytest.raises(ValueError, match="ce and kh"):
        weir("kindsvater_shen", notch_angle=60.0)


def test_rectangular() -> None:
    value = weir("rectangular", crest_width=0.3).convert(GAUGE_MM, None)
    assert_allclose(value, weirs.rectangular(HEAD_M * 100.0, 30.0))
    assert value[1] == pytest.approx(0.0186 * 30.0 * 5.0**1.5)


def test_cipolletti() -> None:
    value = weir("cipolletti", crest_width=0.3).convert(GAUGE_MM, None)
    assert_allclose(value, weirs.cipolletti(HEAD_M, 0.3) * 1000.0)


@pytest.mark.parametrize("form", ["rectangular", "cipolletti"])
def test_a_weir_with_a_crest_needs_crest_width(form: str) -> None:
    with pytest.raises(ValueError, match="crest_width"):
        weir(form)


def test_the_three_vnotch_forms_agree_in_liters_per_second() -> None:
    heads = GAUGE_MM[1:]
    forms = [weir(f).convert(heads, None) for f in ("thomson_vnotch", "sl_vnotch",
                                                    "kindsvater_shen")]
    for other in forms[1:]:
        assert_allclose(other, forms[0], rtol=0.05)


def test_rectangular_and_cipolletti_agree_in_liters_per_second() -> None:
    rectangular = weir("rectangular", crest_width=0.3).convert(GAUGE_MM[1:], None)
    cipolletti = weir("cipolletti", crest_width=0.3).convert(GAUGE_MM[1:], None)
    assert_allclose(rectangular, cipolletti, rtol=0.02)


def test_a_gauge_reading_below_the_notch_gives_no_flow() -> None:
    assert weir("thomson_vnotch").convert(np.array([10.0]), None)[0] == 0.0


# --- plumb line and levelling -------------------------------------------------------------------


def test_coordinometer_displacement_from_the_initial_reading() -> None:
    reading = np.array([25.0, 27.5, 22.0])
    assert_allclose(conversion(kind="coordinometer", initial_reading=25.0).convert(reading, None),
                    [0.0, 2.5, -3.0])


def test_coordinometer_sign_minus_one_reverses_the_direction() -> None:
    reading = np.array([30.0, 32.5])
    value = conversion(kind="coordinometer", initial_reading=30.0, sign=-1).convert(reading, None)
    assert_allclose(value, [0.0, -2.5])
    assert_allclose(value, plumb_line.displacement(reading, initial_reading=30.0, sign=-1))


def test_coordinometer_sign_other_than_plus_or_minus_one_is_refused() -> None:
    with pytest.raises(ValueError, match="sign"):
        conversion(kind="coordinometer", initial_reading=30.0, sign=2)


def test_levelling_settlement_in_mm_positive_downward() -> None:
    elevation = np.array([145.0, 144.995, 145.002])
    value = conversion(kind="levelling", initial_elevation=145.0).convert(elevation, None)
    assert_allclose(value, [0.0, 5.0, -2.0], atol=1e-9)
    assert_allclose(value, levelling.settlement_mm(elevation, initial_elevation_m=145.0))

"""One contract for every conversion: arrays in, float64 arrays out, NaN propagates.

Readings arrive in batches (one array per channel and time range), so every formula must work
element-wise on arrays, broadcast per-channel constants, accept plain floats, and let a missing
reading (NaN) pass through as NaN without raising or warning (warnings are errors in tests).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray

from shuian.instruments import carlson, levelling, plumb_line, thermistor, vibrating_wire, weirs

Conversion = Callable[[NDArray[np.float64]], NDArray[np.float64]]

# Each conversion as a function of one array, with realistic values for the other arguments,
# and a realistic input value.
CONVERSIONS: dict[str, tuple[Conversion, float]] = {
    "vibrating_wire.frequency_to_digits": (vibrating_wire.frequency_to_digits, 2828.0),
    "vibrating_wire.linear": (
        lambda r: vibrating_wire.linear(
            r,
            gauge_factor=-0.1795,
            zero_reading=9082.0,
            temperature=15.0,
            zero_temperature=22.0,
            thermal_factor=0.1319,
        ),
        6749.0,
    ),
    "vibrating_wire.polynomial": (
        lambda r: vibrating_wire.polynomial(
            r, a=-1e-7, b=-0.17, c=1538.1, temperature=r * 0 + 15.0, zero_temperature=22.0
        ),
        7000.0,
    ),
    "vibrating_wire.polynomial_offset": (
        lambda r: vibrating_wire.polynomial_offset(r, -1e-7, -0.17),
        9000.0,
    ),
    "vibrating_wire.pressure_to_head": (
        lambda p: vibrating_wire.pressure_to_head(p, 1250.0),
        98.0665,
    ),
    "thermistor.steinhart_hart": (thermistor.steinhart_hart, 3000.0),
    "carlson.temperature_from_resistance": (
        lambda r: carlson.temperature_from_resistance(
            r, alpha=6.9, zero_resistance=53.4, alpha_below_zero=7.1
        ),
        55.4,
    ),
    "carlson.measured_value": (
        lambda z: carlson.measured_value(
            z,
            12.6,
            minimum_reading=0.0198,
            zero_ratio=9966.0,
            temperature_coefficient=-0.01,
            zero_temperature=19.5,
        ),
        10057.0,
    ),
    "weirs.v_notch_thomson": (weirs.v_notch_thomson, 0.1),
    "weirs.v_notch_chinese": (weirs.v_notch_chinese, 10.0),
    "weirs.v_notch_kindsvater_shen": (weirs.v_notch_kindsvater_shen, 0.1),
    "weirs.rectangular": (lambda h: weirs.rectangular(h, 50.0), 10.0),
    "weirs.cipolletti": (lambda h: weirs.cipolletti(h, 0.5), 0.15),
    "plumb_line.displacement": (lambda r: plumb_line.displacement(r, 12.30), 14.05),
    "plumb_line.absolute_displacement": (
        lambda d: plumb_line.absolute_displacement(d, 0.8),
        3.2,
    ),
    "levelling.settlement_mm": (lambda z: levelling.settlement_mm(z, 100.0), 99.9955),
}


@pytest.fixture(params=sorted(CONVERSIONS), name="conversion")
def _conversion(request: pytest.FixtureRequest) -> tuple[Conversion, float]:
    return CONVERSIONS[request.param]


def test_every_public_function_is_in_the_contract() -> None:
    modules = {
        "vibrating_wire": vibrating_wire,
        "thermistor": thermistor,
        "carlson": carlson,
        "weirs": weirs,
        "plumb_line": plumb_line,
        "levelling": levelling,
    }
    public = {
        f"{name}.{attr}"
        for name, module in modules.items()
        for attr, value in vars(module).items()
        if callable(value)
        and not attr.startswith("_")
        and getattr(value, "__module__", None) == module.__name__
    }
    assert public == set(CONVERSIONS)


def test_array_in_array_out_elementwise(conversion: tuple[Conversion, float]) -> None:
    func, value = conversion
    batch = np.array([[value, value * 1.01], [value * 0.99, value]])
    out = func(batch)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.float64
    assert out.shape == batch.shape
    for index in np.ndindex(batch.shape):
        assert out[index] == pytest.approx(float(func(np.asarray(batch[index]))), rel=1e-12)


def test_scalar_in_gives_a_0d_float64_array(conversion: tuple[Conversion, float]) -> None:
    func, value = conversion
    out = func(value)  # type: ignore[arg-type]  # a plain float is accepted (ArrayLike)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.float64
    assert out.shape == ()
    assert np.isfinite(out)


def test_nan_propagates_without_warnings(conversion: tuple[Conversion, float]) -> None:
    func, value = conversion
    out = func(np.array([value, np.nan, value]))
    assert np.isfinite(out[[0, 2]]).all()
    assert np.isnan(out[1])


def test_integer_and_list_input_are_accepted() -> None:
    np.testing.assert_allclose(vibrating_wire.frequency_to_digits([3000, 2000]), [9000.0, 4000.0])
    np.testing.assert_allclose(levelling.settlement_mm([100, 99], 100), [0.0, 1000.0])


def test_per_channel_constants_broadcast() -> None:
    # Two piezometers (columns), three times (rows): each column keeps its own G and R0.
    readings = np.array([[9000.0, 8500.0], [8000.0, 8400.0], [7000.0, 8300.0]])
    g = np.array([-0.18, -0.05])
    r0 = np.array([9000.0, 8500.0])
    p = vibrating_wire.linear(readings, gauge_factor=g, zero_reading=r0)
    np.testing.assert_allclose(p, [[0.0, 0.0], [180.0, 5.0], [360.0, 10.0]])

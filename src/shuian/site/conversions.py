"""Channel calibrations as they appear in the site file, each turning raw readings into values.

A channel's ``conversion`` key picks one of these by ``kind``; the formula itself lives in the
pure modules of :mod:`shuian.instruments`, so this module only holds the constants and the units
of the raw reading. Every ``convert`` takes whole arrays (one batch of readings at once).
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shuian.instruments import carlson, levelling, plumb_line, thermistor, vibrating_wire, weirs

FloatArray = NDArray[np.float64]


class _Conversion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def needs_temperature(self) -> bool:
        """Whether the formula needs the reading's temperature (°C) beside the raw value."""
        return False

    def convert(self, raw: FloatArray, temperature: FloatArray | None) -> FloatArray:
        """Convert raw readings (and temperatures, °C, where used) to engineering values."""
        raise NotImplementedError


class Identity(_Conversion):
    """The logger already reports the engineering value."""

    kind: Literal["none"] = "none"

    def convert(self, raw: FloatArray, temperature: FloatArray | None) -> FloatArray:
        """Return the raw readings unchanged."""
        return raw


class Linear(_Conversion):
    """``value = scale * raw + offset`` (a 4-20 mA transmitter, a scaled logger channel)."""

    kind: Literal["linear"]
    scale: float = 1.0
    offset: float = 0.0

    def convert(self, raw: FloatArray, temperature: FloatArray | None) -> FloatArray:
        """Apply the straight line."""
        return self.scale * raw + self.offset


class _VibratingWire(_Conversion):
    reading: Literal["digits", "frequency"] = "digits"
    zero_temperature: float | None = None
    thermal_factor: float = 0.0
    #: When set, the result (kPa) is turned into piezometric head (m) at this elevation (m).
    sensor_elevation: float | None = None

    def _digits(self, raw: FloatArray) -> FloatArray:
        if self.reading == "frequency":
            return np.asarray(vibrating_wire.frequency_to_digits(raw), dtype=np.float64)
        return raw

    def _temperature(self, temperature: FloatArray | None) -> FloatArray | None:
        return temperature if self.thermal_factor != 0.0 else None

    def _finish(self, value: FloatArray) -> FloatArray:
        if self.sensor_elevation is None:
            return value
        return np.asarray(vibrating_wire.pressure_to_head(value, self.sensor_elevation))


class VibratingWireLinear(_VibratingWire):
    """Vibrating-wire gauge, linear gauge factor: ``E = G (R1 - R0) + K (T1 - T0)``."""

    kind: Literal["vw_linear"]
    gauge_factor: float
    zero_reading: float

    def convert(self, raw: FloatArray, temperature: FloatArray | None) -> FloatArray:
        """Apply the linear calibration, with thermal correction when ``thermal_factor`` != 0."""
        value = vibrating_wire.linear(
            self._digits(raw),
            gauge_factor=self.gauge_factor,
            zero_reading=self.zero_reading,
            temperature=self._temperature(temperature),
            zero_temperature=self.zero_temperature,
            thermal_factor=self.thermal_factor,
        )
        return self._finish(np.asarray(value, dtype=np.float64))

    @property
    def needs_temperature(self) -> bool:
        """Whether the thermal correction needs the temperature column."""
        return self.thermal_factor != 0.0


class VibratingWirePolynomial(_VibratingWire):
    """Vibrating-wire gauge, polynomial: ``E = A R1² + B R1 + C + K (T1 - T0)``."""

    kind: Literal["vw_polynomial"]
    a: float
    b: float
    c: float

    def convert(self, raw: FloatArray, temperature: FloatArray | None) -> FloatArray:
        """Apply the polynomial calibration, with thermal correction when configured."""
        value = vibrating_wire.polynomial(
            self._digits(raw),
            a=self.a,
            b=self.b,
            c=self.c,
            temperature=self._temperature(temperature),
            zero_temperature=self.zero_temperature,
            thermal_factor=self.thermal_factor,
        )
        return self._finish(np.asarray(value, dtype=np.float64))

    @property
    def needs_temperature(self) -> bool:
        """Whether the thermal correction needs the temperature column."""
        return self.thermal_factor != 0.0


class Thermistor(_Conversion):
    """Thermistor resistance (Ω) to temperature (°C) by Steinhart-Hart."""

    kind: Literal["thermistor"]
    a: float = 1.4051e-3
    b: float = 2.369e-4
    c: float = 1.019e-7
    d: float = 0.0

    def convert(self, raw: FloatArray, temperature: FloatArray | None) -> FloatArray:
        """Convert resistance in ohm to °C."""
        value = thermistor.steinhart_hart(raw, a=self.a, b=self.b, c=self.c, d=self.d)
        return np.asarray(value, dtype=np.float64)


class CarlsonTemperature(_Conversion):
    """Differential-resistance gauge: temperature (°C) from total resistance (Ω)."""

    kind: Literal["carlson_temperature"]
    alpha: float
    zero_resistance: float
    alpha_below_zero: float | None = None

    def convert(self, raw: FloatArray, temperature: FloatArray | None) -> FloatArray:
        """Convert total resistance in ohm to °C."""
        value = carlson.temperature_from_resistance(
            raw,
            alpha=self.alpha,
            zero_resistance=self.zero_resistance,
            alpha_below_zero=self.alpha_below_zero,
        )
        return np.asarray(value, dtype=np.float64)


class Carlson(_Conversion):
    """Differential-resistance gauge: ``Q = f (Z - Z0) + b (T - T0)``; raw is the ratio Z."""

    kind: Literal["carlson"]
    minimum_reading: float
    zero_ratio: float
    temperature_coefficient: float = 0.0
    zero_temperature: float = 0.0

    def convert(self, raw: FloatArray, temperature: FloatArray | None) -> FloatArray:
        """Convert the resistance ratio (0.01 %) and temperature (°C) to the measured value."""
        if temperature is None and self.temperature_coefficient != 0.0:
            temperature = np.full_like(raw, np.nan)
        value = carlson.measured_value(
            raw,
            temperature if temperature is not None else np.full_like(raw, self.zero_temperature),
            minimum_reading=self.minimum_reading,
            zero_ratio=self.zero_ratio,
            temperature_coefficient=self.temperature_coefficient,
            zero_temperature=self.zero_temperature,
        )
        return np.asarray(value, dtype=np.float64)

    @property
    def needs_temperature(self) -> bool:
        """Whether the correction needs the temperature column."""
        return self.temperature_coefficient != 0.0


class Weir(_Conversion):
    """Seepage weir: water-level gauge reading (mm) to discharge (L/s).

    ``zero_reading`` is the gauge reading (mm) with the water at the notch or crest, so the
    head is ``raw - zero_reading``.
    """

    kind: Literal["weir"]
    form: Literal["thomson_vnotch", "sl_vnotch", "kindsvater_shen", "rectangular", "cipolletti"]
    zero_reading: float = 0.0
    crest_width: float | None = Field(default=None, description="m; rectangular/cipolletti")
    notch_angle: float = Field(default=90.0, description="degrees; kindsvater_shen")
    ce: float | None = Field(default=None, description="Kindsvater-Shen Ce; needed off 90°")
    kh: float | None = Field(default=None, description="Kindsvater-Shen kh (m); needed off 90°")

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.form in ("rectangular", "cipolletti") and self.crest_width is None:
            raise ValueError(f"a {self.form} weir needs crest_width (m)")
        if self.form == "kindsvater_shen" and self.notch_angle != 90.0 and (
            self.ce is None or self.kh is None
        ):
            raise ValueError("a Kindsvater-Shen notch other than 90° needs ce and kh")
        return self

    def convert(self, raw: FloatArray, temperature: FloatArray | None) -> FloatArray:
        """Convert gauge readings (mm) to discharge (L/s)."""
        head_m = (raw - self.zero_reading) / 1000.0
        if self.form == "thomson_vnotch":
            q = np.asarray(weirs.v_notch_thomson(head_m)) * 1000.0
        elif self.form == "sl_vnotch":
            q = np.asarray(weirs.v_notch_chinese(head_m * 100.0))
        elif self.form == "kindsvater_shen":
            q = np.asarray(weirs.v_notch_kindsvater_shen(
                head_m, angle_deg=self.notch_angle, ce=self.ce, kh_m=self.kh
            ))
            q = q * 1000.0
        elif self.form == "rectangular":
            q = np.asarray(weirs.rectangular(head_m * 100.0, self._width() * 100.0))
        else:
            q = np.asarray(weirs.cipolletti(head_m, self._width())) * 1000.0
        return q.astype(np.float64)

    def _width(self) -> float:
        if self.crest_width is None:  # guarded by the site validator
            raise ValueError("crest_width is required")
        return self.crest_width


class Coordinometer(_Conversion):
    """Plumb-line coordinometer reading (mm) to displacement (mm) from the initial reading."""

    kind: Literal["coordinometer"]
    initial_reading: float
    sign: Literal[1, -1] = 1

    def convert(self, raw: FloatArray, temperature: FloatArray | None) -> FloatArray:
        """Displacement = sign × (reading − initial)."""
        value = plumb_line.displacement(
            raw, initial_reading=self.initial_reading, sign=self.sign
        )
        return np.asarray(value, dtype=np.float64)


class Levelling(_Conversion):
    """Levelling: benchmark elevation (m) to settlement (mm, positive downward)."""

    kind: Literal["levelling"]
    initial_elevation: float

    def convert(self, raw: FloatArray, temperature: FloatArray | None) -> FloatArray:
        """Settlement = (initial − current) × 1000."""
        value = levelling.settlement_mm(raw, initial_elevation_m=self.initial_elevation)
        return np.asarray(value, dtype=np.float64)


Conversion = Annotated[
    Identity
    | Linear
    | VibratingWireLinear
    | VibratingWirePolynomial
    | Thermistor
    | CarlsonTemperature
    | Carlson
    | Weir
    | Coordinometer
    | Levelling,
    Field(discriminator="kind"),
]

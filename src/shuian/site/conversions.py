"""Channel calibrations as they appear in the site file, each turning raw readings into values.

A channel's ``conversion`` key picks one of these by ``kind``; the formula itself lives in the
pure modules of :mod:`shuian.instruments`, so this module only holds the constants and the units
of the raw reading. Every ``convert`` takes whole arrays (one batch of readings at once).

Pressure units of a vibrating-wire calibration
----------------------------------------------
A calibration report prints its gauge factor in the unit of the pressure it gives: kPa/digit,
psi/digit, bar/digit, MPa/digit. The ``unit`` key of a ``vw_linear`` or ``vw_polynomial``
conversion says which (the unit of ``G (R1 - R0)``, of ``A R1² + B R1 + C`` and of ``K`` per
°C)::

    conversion: {kind: vw_linear, gauge_factor: -0.02603, zero_reading: 9082.0,
                 unit: psi, sensor_elevation: 1285.0}

Any pressure unit the units library pint knows is accepted, case-sensitive as written in SI:
``kPa``, ``MPa``, ``Pa``, ``bar``, ``mbar``, ``psi``, ``kgf/cm^2``, ``mH2O``, ``atm``. It is
turned into a factor to kPa once, when the site file is loaded (:func:`kpa_per_unit`); the
conversion of readings stays one vectorised multiply. A unit pint does not know (``furlongs``
is a length, ``kpa`` is not a unit) or one that is not a pressure is a site-file error at the
``unit`` key.

With ``sensor_elevation`` the pressure becomes piezometric head (m):
``h = E · (kPa per unit) / 9.80665 + z``. Without it the value keeps the calibration's unit
(no scaling), so the channel's own ``unit`` must name the same one.

**Default: kPa.** A head conversion (``sensor_elevation`` given) without ``unit`` reads the
calibration as kPa, as every site file written before the key did (the demo's and the test
sites' piezometers); write ``unit: kPa`` to say so explicitly. Without ``sensor_elevation``
and without ``unit`` the unit of the value is the channel's (a strain gauge in µε, a joint
meter in mm): nothing is converted, so nothing is assumed.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from shuian.instruments import carlson, levelling, plumb_line, thermistor, vibrating_wire, weirs

if TYPE_CHECKING:
    import pint

FloatArray = NDArray[np.float64]

#: Pressure units a calibration report uses, for the hint on a mistyped (wrong-case) unit.
COMMON_PRESSURE_UNITS = ("kPa", "MPa", "Pa", "bar", "mbar", "psi", "kgf/cm^2", "mH2O")


@cache
def _registry() -> pint.UnitRegistry[Any]:
    """Pint's unit registry, built on first use (about half a second), then kept."""
    import pint

    return pint.UnitRegistry()


@cache
def kpa_per_unit(unit: str) -> float:
    """Kilopascals in one ``unit`` of pressure (``psi`` -> 6.894757), by pint.

    Parameters
    ----------
    unit : str
        A pressure unit as pint spells it (case-sensitive): ``kPa``, ``MPa``, ``bar``,
        ``psi``, ``kgf/cm^2``, ``mH2O``, ...

    Returns
    -------
    float
        The factor to kPa: 1 kPa = 1, 1 psi = 6.894757, 1 bar = 100, 1 MPa = 1000.

    Raises
    ------
    ValueError
        The unit is unknown, not a pressure, or so small (below 1 Pa) that it is surely a
        mistyped one (``mPa``, a millipascal, for ``MPa``); the message says which and the fix.

    Examples
    --------
    >>> round(kpa_per_unit("psi"), 6)
    6.894757
    """
    text = unit.strip()
    registry = _registry()
    try:
        parsed = registry.parse_units(text)
    except Exception as exc:  # pint's parser raises several kinds (AssertionError, TokenError)
        hint = [u for u in COMMON_PRESSURE_UNITS if u.lower() == text.lower()]
        fix = (
            f"units are case-sensitive: write {hint[0]!r}"
            if hint
            else f"write a pressure unit such as {', '.join(COMMON_PRESSURE_UNITS)}"
        )
        raise ValueError(f"unknown unit {unit!r}; {fix}") from exc
    quantity: Any = registry.Quantity(1.0, parsed)
    if not quantity.check("[pressure]"):
        raise ValueError(
            f"{unit!r} ({parsed}, {quantity.dimensionality}) is not a pressure unit; 'unit' "
            "names the pressure unit of the calibration (kPa, psi, bar, MPa); leave it out "
            "for a gauge that does not measure pressure"
        )
    factor = float(quantity.to("kPa").magnitude)
    if factor < 1e-3:
        raise ValueError(
            f"{unit!r} is {parsed} ({factor:.3g} kPa), smaller than any calibration uses; "
            "units are case-sensitive: write 'MPa' for megapascal"
        )
    return factor


class _Conversion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def needs_temperature(self) -> bool:
        """Whether the formula needs the reading's temperature (°C) beside the raw value."""
        return False

    @property
    def value_unit(self) -> str | None:
        """Unit of the converted value where the conversion itself fixes it, else None."""
        return None

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
    #: Pressure unit of the calibration's value (of G, A, B, C and K): any pressure unit
    #: pint knows (psi, bar, MPa, kPa, ...). None: kPa for a head conversion; see the module.
    unit: str | None = None
    #: When set, the result (a pressure in ``unit``) is turned into piezometric head (m) at
    #: this elevation (m).
    sensor_elevation: float | None = None
    _kpa_per_unit: float = PrivateAttr(default=1.0)

    @field_validator("unit")
    @classmethod
    def _pressure_unit(cls, unit: str | None) -> str | None:
        if unit is not None:
            kpa_per_unit(unit)  # raises ValueError with the fix; cached for model_post_init
        return unit

    def model_post_init(self, context: Any, /) -> None:
        """Turn ``unit`` into its factor to kPa once, at load time."""
        if self.unit is not None:
            self._kpa_per_unit = kpa_per_unit(self.unit)

    @property
    def value_unit(self) -> str | None:
        """Unit of the converted value: ``m`` for a head, else ``unit`` (None: not stated)."""
        return "m" if self.sensor_elevation is not None else self.unit

    @property
    def kpa_per_unit(self) -> float:
        """Kilopascals in one unit of the calibration's value (1 when ``unit`` is not given)."""
        return self._kpa_per_unit

    def _digits(self, raw: FloatArray) -> FloatArray:
        if self.reading == "frequency":
            return np.asarray(vibrating_wire.frequency_to_digits(raw), dtype=np.float64)
        return raw

    def _temperature(self, temperature: FloatArray | None) -> FloatArray | None:
        return temperature if self.thermal_factor != 0.0 else None

    def _finish(self, value: FloatArray) -> FloatArray:
        if self.sensor_elevation is None:
            return value
        return np.asarray(
            vibrating_wire.pressure_to_head(
                value, self.sensor_elevation, kpa_per_unit=self._kpa_per_unit
            )
        )


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

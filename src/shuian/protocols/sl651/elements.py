"""SL 651-2014 elements (Annex C): what an identifier means, and how its value is written.

Pure data and small pure functions: no I/O.

In a report, an element is its identifier (one byte, ``FF xx`` for a user code), its
data-definition byte (top 5 bits: byte count, low 3 bits: decimal places) and its value. The
value is BCD for most elements (a first byte ``FF``: negative; all ``F``: missing), an unsigned
number for the status word ``ZT`` (45), the time-step code ``DDhhmm`` for ``04``, and a fixed
array of twelve 5-minute values for ``F4`` (rainfall, 1 byte each, in 0.1 mm) and ``F5``-``FC``
(relative water levels, 2 bytes each, in 0.01 m). In ASCII mode the element is its symbol and
its value in decimal text (:mod:`shuian.protocols.sl651.ascii`).

Examples
--------
>>> ELEMENTS["39"].symbol, ELEMENTS["39"].unit, ELEMENTS["39"].size, ELEMENTS["39"].decimals
('Z', 'm', 4, 3)
>>> value_of(bytes.fromhex("00000127"), 3, "bcd")
(0.127, ())
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["ELEMENTS", "Element", "ElementInfo", "Kind", "element"]

#: How an element's value is written: BCD, an unsigned number (HEX), the 12 one-byte values of
#: ``F4``, the 12 two-byte values of ``F5``-``FC``, the time-step code ``DDhhmm``.
Kind = Literal["bcd", "hex", "rain5", "level5", "timestep"]


@dataclass(frozen=True)
class ElementInfo:
    """An element of Annex C: symbol, meaning, unit and usual size (bytes) and decimals."""

    symbol: str
    name: str
    unit: str
    size: int
    decimals: int
    kind: Kind = "bcd"


def _n(symbol: str, name: str, unit: str, digits: int, decimals: int) -> ElementInfo:
    """An element whose data definition in Annex C is N(digits, decimals): BCD, digits/2 bytes."""
    return ElementInfo(symbol, name, unit, (digits + 1) // 2, decimals)


# Annex C (表C.1, 编码要素及标识符汇总表): identifier, symbol, meaning, unit and N(x,y), x digits of
# which y decimals. Checked entry by entry against three transcriptions of the table, which agree
# except where noted: yushun1990/sl651_bridge protocol/src/ident.rs; yu-xiaoyao/sl651-2014-server
# netty-server/.../element/ElementMappings.java and EleIdentifierEnum.java (N(x,y)); the symbols
# of aaasoft/Quick.SL651 src/Quick.SL651/Enums/ElementCodes.cs. Disagreements: 47 DO is N(4,1)
# in sl651_bridge and N(4,2) in sl651-2014-server (N(4,1) kept: unresolved); 4C NH4N is N(6,2)
# in both, N(6,3) in a third list (DTU.GateWay Identifier_Standard). 05 DT (hours.minutes) is
# left out: no source gives its HEX form. Every entry of the previous table was confirmed.
ELEMENTS: dict[str, ElementInfo] = {
    "01": _n("AC", "section area", "m²", 8, 2),
    "02": _n("AI", "instantaneous air temperature", "°C", 3, 1),
    "03": _n("C", "instantaneous water temperature", "°C", 3, 1),
    "04": ElementInfo("DRxnn", "time-step code (DDhhmm)", "min", 3, 0, "timestep"),
    "06": _n("ED", "daily evaporation", "mm", 5, 1),
    "07": _n("EJ", "current evaporation", "mm", 5, 1),
    "08": _n("FL", "air pressure", "hPa", 5, 0),
    "09": _n("GH", "gate opening", "m", 5, 2),
    "0A": _n("GN", "number of the gate or water-conveyance device (group)", "", 3, 0),
    "0B": _n("GS", "type of water-conveyance device", "", 1, 0),
    "0C": _n("GT", "number of gates open", "", 3, 0),
    "0D": _n("GTP", "ground temperature", "°C", 3, 1),
    "0E": _n("H", "instantaneous ground-water depth", "m", 6, 2),
    "0F": _n("HW", "wave height", "m", 5, 2),
    **{
        f"{0x10 + i:02X}": _n(f"M{depth}", f"soil moisture at {depth} cm", "%", 4, 1)
        for i, depth in enumerate((10, 20, 30, 40, 50, 60, 80, 100))
    },
    "18": _n("MST", "humidity", "%", 4, 1),
    "19": _n("NS", "number of machines running", "", 2, 0),
    "1A": _n("P1", "1-hour rainfall", "mm", 5, 1),
    "1B": _n("P2", "2-hour rainfall", "mm", 5, 1),
    "1C": _n("P3", "3-hour rainfall", "mm", 5, 1),
    "1D": _n("P6", "6-hour rainfall", "mm", 5, 1),
    "1E": _n("P12", "12-hour rainfall", "mm", 5, 1),
    "1F": _n("PD", "daily rainfall", "mm", 5, 1),
    "20": _n("PJ", "current rainfall (since last report)", "mm", 5, 1),
    "21": _n("PN01", "1-minute rainfall", "mm", 5, 1),
    "22": _n("PN05", "5-minute rainfall", "mm", 5, 1),
    "23": _n("PN10", "10-minute rainfall", "mm", 5, 1),
    "24": _n("PN30", "30-minute rainfall", "mm", 5, 1),
    "25": _n("PR", "storm rainfall", "mm", 5, 1),
    "26": _n("PT", "accumulated rainfall", "mm", 6, 1),
    "27": _n("Q", "instantaneous flow", "m³/s", 9, 3),
    **{
        f"{0x28 + i:02X}": _n(f"Q{i + 1}", f"intake or outlet flow {i + 1}", "m³/s", 9, 3)
        for i in range(8)
    },
    "30": _n("QA", "total outflow", "m³/s", 9, 3),
    "31": _n("QZ", "flow of a water-conveyance device or gate group", "m³/s", 9, 3),
    "32": _n("SW", "sediment discharge", "10⁴ t", 11, 3),
    "33": _n("UC", "wind direction", "", 2, 0),
    "34": _n("UE", "wind force", "Beaufort", 2, 0),
    "35": _n("US", "wind speed", "m/s", 4, 1),
    "36": _n("VA", "mean velocity of the section", "m/s", 5, 3),
    "37": _n("VJ", "instantaneous velocity", "m/s", 5, 3),
    "38": _n("VT", "supply voltage", "V", 4, 2),
    "39": _n("Z", "instantaneous river level", "m", 7, 3),
    "3A": _n("ZB", "reservoir downstream level", "m", 7, 3),
    "3B": _n("ZU", "reservoir upstream level", "m", 7, 3),
    **{
        f"{0x3C + i:02X}": _n(f"Z{i + 1}", f"intake or outlet water level {i + 1}", "m", 7, 3)
        for i in range(8)
    },
    "44": _n("SQ", "sediment concentration", "kg/m³", 9, 3),
    "45": ElementInfo("ZT", "status and alarm word", "", 4, 0, "hex"),
    "46": _n("pH", "pH", "", 4, 2),
    "47": _n("DO", "dissolved oxygen", "mg/L", 4, 1),
    "48": _n("COND", "conductivity", "µS/cm", 5, 0),
    "49": _n("TURB", "turbidity", "degree", 3, 0),
    "4A": _n("CODMN", "permanganate index", "mg/L", 4, 1),
    "4B": _n("REDOX", "redox potential", "mV", 5, 1),
    "4C": _n("NH4N", "ammonia nitrogen", "mg/L", 6, 2),
    "4D": _n("TP", "total phosphorus", "mg/L", 5, 3),
    "4E": _n("TN", "total nitrogen", "mg/L", 5, 2),
    "4F": _n("TOC", "total organic carbon", "mg/L", 4, 2),
    "50": _n("CU", "copper", "mg/L", 7, 4),
    "51": _n("ZN", "zinc", "mg/L", 6, 4),
    "52": _n("SE", "selenium", "mg/L", 7, 5),
    "53": _n("AS", "arsenic", "mg/L", 7, 5),
    "54": _n("THG", "total mercury", "mg/L", 7, 5),
    "55": _n("CD", "cadmium", "mg/L", 7, 5),
    "56": _n("PB", "lead", "mg/L", 7, 5),
    "57": _n("CHLA", "chlorophyll a", "mg/L", 4, 2),
    **{f"{0x58 + i:02X}": _n(f"WP{i + 1}", f"water pressure {i + 1}", "kPa", 5, 2)
       for i in range(8)},
    **{f"{0x60 + i:02X}": _n(f"SYL{i + 1}", f"remaining water of meter {i + 1}", "m³", 11, 3)
       for i in range(8)},
    **{f"{0x68 + i:02X}": _n(f"SBL{i + 1}", f"hourly water of meter {i + 1}", "m³/h", 10, 2)
       for i in range(8)},
    "70": _n("VTA", "AC voltage, phase A", "V", 4, 1),
    "71": _n("VTB", "AC voltage, phase B", "V", 4, 1),
    "72": _n("VTC", "AC voltage, phase C", "V", 4, 1),
    "73": _n("VIA", "AC current, phase A", "A", 4, 1),
    "74": _n("VIB", "AC current, phase B", "A", 4, 1),
    "75": _n("VIC", "AC current, phase C", "A", 4, 1),
    "F4": ElementInfo("DRP", "5-minute rainfall of the hour (12 values)", "mm", 12, 0, "rain5"),
    **{
        f"{0xF5 + i:02X}": ElementInfo(
            f"DRZ{i + 1}", f"5-minute relative water level {i + 1} of the hour (12 values)",
            "m", 24, 0, "level5",
        )
        for i in range(8)
    },
}
"""Elements of Annex C known to this codec, by identifier (two hex digits)."""

#: ASCII-mode symbols (upper case) to identifiers; the time-step code is a pattern, not a symbol.
SYMBOLS = {info.symbol.upper(): ident for ident, info in ELEMENTS.items() if ident != "04"}


@dataclass(frozen=True)
class Element:
    """One decoded element.

    ``value`` is None when the station sent "missing" (all F), when the element is an array
    (``values`` then holds its twelve 5-minute values, None where invalid), when it is a
    uniform-interval series (``values`` holds one value per step, None where missing, and
    ``time_step`` the step: value *i* was observed at the observation time + *i* × step) or when
    the bytes are not a number. ``observed_time`` is None when the element belongs to the frame's
    ``observed_time``; ``raw`` (ignored in comparisons) is what the frame carried for the value:
    hex of the value bytes in HEX/BCD mode, the value text (or, for the time-step code, the
    ``DRxnn`` symbol) in ASCII mode; :func:`encode_frame` re-sends it as is when it encodes in
    the frame's own mode (all the values of a series: their hex, or their texts separated by
    spaces).

    In ASCII mode ``id`` is still the identifier (``"39"`` for ``Z``); an unknown symbol is kept
    as a non-standard element whose ``id`` is the symbol text. ``decimals`` are those
    of the text, and ``size`` is the number of bytes the value takes in HEX/BCD mode (the usual
    size of Annex C, more if the digits need it), so a frame can be re-encoded in either mode.
    """

    id: str
    name: str
    value: float | None
    unit: str
    standard: bool
    decimals: int
    size: int
    symbol: str = ""
    values: tuple[float | None, ...] = ()
    observed_time: dt.datetime | None = None
    time_step: dt.timedelta | None = None
    raw: str = field(default="", compare=False)


def element(
    id: str,
    value: float | None,
    *,
    decimals: int | None = None,
    size: int | None = None,
    values: tuple[float | None, ...] = (),
    observed_time: dt.datetime | None = None,
    time_step: dt.timedelta | None = None,
) -> Element:
    """An element to encode; size and decimals default to the usual ones of Annex C.

    A uniform-interval series (function 31) is ``element(id, None, values=..., time_step=...)``
    after ``element("04", minutes)``, the time-step code.

    Examples
    --------
    >>> element("39", 0.127).size, element("39", 0.127).decimals
    (4, 3)
    >>> element("39", None, values=(1.5, 1.6), time_step=dt.timedelta(minutes=5)).time_step
    datetime.timedelta(seconds=300)
    """
    ident = id.upper()
    info = ELEMENTS.get(ident)
    if info is None:
        if decimals is None or size is None:
            raise ValueError(f"element {ident} is not in Annex C: give decimals= and size=")
        return Element(ident, f"element {ident}", value, "", False, decimals, size,
                       values=values, observed_time=observed_time, time_step=time_step)
    return Element(
        ident, info.name, value, info.unit, True,
        info.decimals if decimals is None else decimals, info.size if size is None else size,
        symbol=info.symbol, values=values, observed_time=observed_time, time_step=time_step,
    )


def time_step(item: Element) -> dt.timedelta | None:
    """The time step a time-step code element gives (None for a step of zero or missing)."""
    if item.value is None or item.value <= 0:
        return None
    return dt.timedelta(minutes=item.value)


def kind_of(item: Element) -> Kind:
    """How the value of ``item`` is written: its Annex C kind; ``"bcd"`` for a vendor element."""
    info = ELEMENTS.get(item.id) if item.standard else None
    return info.kind if info is not None else "bcd"


def is_bcd(raw: bytes) -> bool:
    """Whether ``raw`` is BCD digits, all F (missing), or FF then BCD digits (negative)."""
    if raw == b"\xff" * len(raw):
        return True
    digits = (raw[1:] if raw[:1] == b"\xff" else raw).hex()
    return digits.isdigit()


def value_of(
    raw: bytes, decimals: int, kind: Kind
) -> tuple[float | None, tuple[float | None, ...]]:
    """The value of an element's bytes (HEX/BCD mode), and an array's values.

    ``raw`` are the value bytes, ``decimals`` the data-definition byte's decimal places. A
    scalar gives (value, ()), value None when missing (all F) or not BCD; an array (``rain5``,
    ``level5``) gives (None, values), None where a value is all F; the time-step code gives its
    minutes.
    """
    if kind == "rain5":
        return None, tuple(None if b == 0xFF else b / 10 for b in raw)
    if kind == "level5":
        pairs = [int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw) - 1, 2)]
        return None, tuple(None if v == 0xFFFF else v / 100 for v in pairs)
    if not raw or raw == b"\xff" * len(raw):
        return None, ()
    if kind == "hex":
        return int.from_bytes(raw, "big") / 10**decimals, ()
    negative = raw[0] == 0xFF
    digits = (raw[1:] if negative else raw).hex()
    if not digits.isdigit():
        return None, ()
    if kind == "timestep":
        return float(int(digits[0:2]) * 1440 + int(digits[2:4]) * 60 + int(digits[4:6])), ()
    number = int(digits) / 10**decimals
    return (-number if negative else number), ()

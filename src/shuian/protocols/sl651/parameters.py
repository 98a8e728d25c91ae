"""SL 651-2014 configuration, query and control frames (functions 40H to 51H): their tables.

Pure data and small pure functions: no I/O. :mod:`shuian.protocols.sl651.hexmode` uses them to
lay out the body of such a frame; they are not readings and the centre never stores them as
readings.

The body of a configuration, query or control frame (HEX/BCD mode) is the serial number (2
bytes) and send time (6, BCD), then ``F1 F1`` and the station address (5 bytes) with **no**
station-class byte, then what the function carries:

=========  ==========================================  =========================================
function   meaning (Annex B)                           what follows the station address
=========  ==========================================  =========================================
40H, 41H   modify / read the basic configuration       parameters of Table D.1 (:data:`BASIC`)
42H, 43H   modify / read the runtime parameters        parameters of Table D.4 (:data:`RUNTIME`)
44H        query pump motor real-time data             class, ``F0 F0`` time, elements 70H-75H
45H        query software version                      length (1 byte HEX), version (ASCII)
46H        query station status and alarm              ``45 20`` + the 4-byte status word (ZT)
47H, 48H   initialise storage, restore factory setup   nothing
49H        modify password                             parameter 03 (the new password)
4AH, 51H   set / query the station clock               nothing: the clock is the send time
4BH-4FH    IC card, pump, valve, gate, water quota     not laid out: kept raw (no source read)
50H        query event record                          32 counters ERC1-ERC32, 2 bytes HEX each
=========  ==========================================  =========================================

A parameter is written like an element: identifier, data-definition byte (top 5 bits: byte
count, low 3 bits: decimal places), value; its identifier means what its table says, not what
Annex C says (runtime parameter 20H is the timed-report interval, not rainfall; 38H is the
added-report water level 1, not the supply voltage).

Sources, read and cross-checked (facts only, no code copied): the basic configuration table
(表D.1 遥测站基本配置表) and runtime parameter table (表D.4 遥测站运行参数配置表) as transcribed in
yu-xiaoyao/sl651-2014-server (netty-server/.../telemetry/TelemetryBaseConfigTable.java and
TelemetryRuntimeConfigTable.java, with the readers of channel (DynamicStationChannelConfigReader),
element set (表D.2, DynamicTelemetryCollectEleSettingReader) and device identity
(DynamicConDeviceSnDataDefine)); its decoders of 45H (6.6.4.19: length then text), 50H (ERC
counters, 2 bytes each), 49H (parameter 03), 44H (6.6.4.18) and its config decoders answering
nothing (``makeResponse`` returns null); the replies of a Fujian station published with their
CRCs in wainshine/SL651 (sl651-toolkit/examples/fujian_messages.txt, "福建省水文监测数据接入规定
V1.0 示例报文"), every one of which this layout decodes to its last byte (tests/data/sl651). The
units of Table D.4 are the standard's as commonly transcribed; the table's text itself was not
reachable, so they are not confirmed against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shuian.protocols.sl651.elements import value_of

__all__ = [
    "BASIC",
    "CHANNEL_TYPES",
    "RUNTIME",
    "STATUS_BITS",
    "ParamInfo",
    "Parameter",
    "parameter",
    "parameter_table",
]

ParamKind = Literal["bcd", "hex", "channel", "mode", "ascii"]


@dataclass(frozen=True)
class ParamInfo:
    """A parameter of Table D.1 or D.4: name, unit, and how its value is written."""

    name: str
    unit: str = ""
    kind: ParamKind = "bcd"


@dataclass(frozen=True)
class Parameter:
    """One decoded parameter (or reply item) of a configuration, query or control frame.

    ``value`` is the number (BCD with the data-definition byte's decimals; None when missing or
    not a number); ``text`` is what a number cannot say (an address or password in hex, a
    channel, a version string); ``raw`` the value bytes in hex. ``known`` is False for an
    identifier its table does not list.
    """

    id: str
    name: str
    value: float | None
    text: str
    unit: str
    raw: str
    known: bool = True


#: Table D.1, basic configuration (functions 40H, 41H, 49H).
BASIC: dict[int, ParamInfo] = {
    0x01: ParamInfo("centre addresses (4 centres, 1 byte each)", kind="hex"),
    0x02: ParamInfo("station address", kind="hex"),
    0x03: ParamInfo("password", kind="hex"),
    **{
        0x04 + 2 * i + backup: ParamInfo(
            f"centre {i + 1} {'backup' if backup else 'main'} channel type and address",
            kind="channel",
        )
        for i in range(4) for backup in (0, 1)
    },
    0x0C: ParamInfo("working mode (1 M1 ... 4 M4)", kind="mode"),
    0x0D: ParamInfo("elements collected (Table D.2 bit map)", kind="hex"),
    0x0E: ParamInfo("relay station (forwarding) address and function", kind="hex"),
    0x0F: ParamInfo("communication device identity (card type, number)", kind="ascii"),
}

#: Table D.4, runtime parameters (functions 42H, 43H).
RUNTIME: dict[int, ParamInfo] = {
    0x20: ParamInfo("timed-report interval", "h"),
    0x21: ParamInfo("added-report interval", "min"),
    0x22: ParamInfo("start hour of the rainfall day", "h"),
    0x23: ParamInfo("sampling interval", "s"),
    0x24: ParamInfo("water-level storage interval", "min"),
    0x25: ParamInfo("rain-gauge resolution", "mm"),
    0x26: ParamInfo("water-level gauge resolution", "cm"),
    0x27: ParamInfo("rainfall added-report threshold", "mm"),
    **{0x28 + i: ParamInfo(f"water-level base value {i + 1}", "m") for i in range(8)},
    **{0x30 + i: ParamInfo(f"water-level correction {i + 1}", "m") for i in range(8)},
    **{0x38 + i: ParamInfo(f"added-report water level {i + 1}", "m") for i in range(8)},
    0x40: ParamInfo("added-report threshold above the added-report level", "m"),
    0x41: ParamInfo("added-report threshold below the added-report level", "m"),
    0x42: ParamInfo("flow added-report threshold", "m³/s"),
    0x43: ParamInfo("velocity added-report threshold", "m/s"),
    0x44: ParamInfo("gate-position added-report threshold", "m"),
    0x45: ParamInfo("power added-report threshold", "kW"),
    0x46: ParamInfo("air-pressure added-report threshold", "hPa"),
    0x47: ParamInfo("wind-speed added-report threshold", "m/s"),
    0x48: ParamInfo("water-temperature added-report threshold", "°C"),
}

#: Channel types of parameters 04H-0BH (first byte of the value).
CHANNEL_TYPES = {0x00: "disabled", 0x01: "SMS", 0x02: "IPv4", 0x03: "BeiDou",
                 0x04: "Inmarsat", 0x05: "PSTN", 0x06: "ultra-short wave"}

#: Bits of the status and alarm word ZT (element 45), bit 0 first: what a set bit means
#: (wainshine/SL651 sl651/constants.py STATUS_BITS and STATUS_1, from Table 58 as read there).
STATUS_BITS = (
    "AC power off", "battery voltage low", "water-level alarm", "flow alarm",
    "water-quality alarm", "flow meter fault", "water-level meter fault", "cabinet door closed",
    "storage abnormal", "IC card valid", "pump stopped", "remaining water over limit",
)

_STATUS = {0x45: ParamInfo("status and alarm word (ZT)", kind="hex")}


def parameter_table(function_code: int) -> dict[int, ParamInfo]:
    """The table that gives the identifiers of a function's parameters their meaning.

    Examples
    --------
    >>> parameter_table(0x43)[0x20].name
    'timed-report interval'
    """
    if function_code in (0x42, 0x43):
        return RUNTIME
    if function_code in (0x40, 0x41, 0x49):
        return BASIC
    return _STATUS


def parameter(ident: int, size: int, decimals: int, raw: bytes,
              table: dict[int, ParamInfo]) -> Parameter:
    """Decode one parameter's value bytes according to its table.

    Examples
    --------
    >>> p = parameter(0x23, 2, 0, bytes.fromhex("0300"), RUNTIME)
    >>> (p.name, p.value, p.unit)
    ('sampling interval', 300.0, 's')
    """
    info = table.get(ident)
    hex_text = raw.hex().upper()
    ident_text = f"{ident:02X}"
    if info is None:
        number = value_of(raw, decimals, "bcd")[0]
        return Parameter(ident_text, f"parameter {ident_text}", number,
                         "" if number is not None else hex_text, "", hex_text, known=False)
    text = ""
    value: float | None = None
    if info.kind == "hex":
        text = hex_text
        if ident == 0x45 and table is _STATUS and len(raw) == 4:
            word = int.from_bytes(raw, "big")
            value = float(word)
            text += "".join(f"; {name}" for bit, name in enumerate(STATUS_BITS)
                            if word >> bit & 1)
    elif info.kind == "channel":
        kind = CHANNEL_TYPES.get(raw[0], f"type {raw[0]:02X}") if raw else "empty"
        text = f"{kind} {raw[1:].hex().upper()}".strip()
    elif info.kind == "ascii":
        text = raw.decode("latin-1")
    else:
        value = value_of(raw, decimals, "bcd")[0]
        if info.kind == "mode" and value is not None:
            text = f"M{value:g}"
        elif value is None:
            text = hex_text
    return Parameter(ident_text, info.name, value, text, info.unit, hex_text)


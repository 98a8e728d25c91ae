"""SL 651-2014 (水文监测数据通信规约) frames in HEX/BCD and ASCII mode: decode, encode, acknowledge.

Pure functions: bytes in, :class:`Sl651Frame` out, and back. Nothing here opens a socket.

HEX/BCD mode (Tables 20 to 26 of the standard)::

    7E 7E | centre (1) | station (5) | password (2) | function (1) | flag+length (2)
          | STX 02  (or SYN 16 + packet total/sequence, 3 bytes)
          | body (length bytes) | ETX 03 / ETB 17 (up) or ENQ/EOT/ESC/ACK/NAK (down) | CRC (2)

A down frame (centre to station) gives the station address before the centre address. The CRC is
CRC-16/MODBUS (polynomial X^16+X^15+X^2+1, reflected 0xA001, initial 0xFFFF) over every byte
before it, sent high byte first.

The body of a report: serial number (2), send time (6, BCD YYMMDDhhmmss), ``F1 F1`` + station
address (5) + station class (1), ``F0 F0`` + observation time (5, BCD YYMMDDhhmm), then elements:
identifier, data-definition byte (top 5 bits: byte count, low 3 bits: decimal places), value
(Annex C). A new ``F0 F0`` starts a new group of elements observed at that time. Some stations
send ``F1 28`` and ``F0 28`` (data-definition byte 28: 5 bytes) instead of ``F1 F1`` and
``F0 F0``; both are read (gaoming2222/Protocol_WH-master's published frame, below), and
:func:`encode_frame` writes the standard's form.

ASCII mode (Tables 16 to 19) has the same fields written as characters, each byte of the HEX/BCD
header as two hex characters::

    SOH 01 | centre (2) | station (10) | password (4) | function (2) | flag+length (4: "0" up or
           "8" down, then 3 hex digits) | STX 02 (or SYN 16 + packet total and sequence, 3 hex
           characters each) | body (length characters) | end character | CRC (4 hex characters)

The length counts the characters between the start-of-text and the end character; the CRC is the
same CRC-16/MODBUS, over every byte from SOH to the end character included. The body is the
serial number (4 hex characters) and the send time (12 digits), with no separator, then groups
separated by single spaces, the last one followed by a space too: ``ST`` station address and
class, ``TT`` observation time (10 digits), and elements as their Annex C symbol and the value in
decimal text (``PJ 0.5 Z 0.301 VT 10.91 ``). The time-step code is the symbol itself, ``DRxnn``
(``x`` = ``D`` days, ``H`` hours or ``N`` minutes, ``nn`` = how many), with no value.

Sources for ASCII mode, all of which agree with each other: two frames published with their CRC
in "SL651-2014全协议解析(ASCII编码格式)" (blog.csdn.net/weixin_42163707/article/details/132556389),
whose CRCs check with the rule above (byte for byte, see the tests); the ASCII codec of
yushun1990/sl651_bridge (protocol/src/frame.rs and body.rs, citing Tables 16 to 19 and 6.6.2) and
its golden frame. Not confirmed by any source read, so assumed here: the ASCII form of ``ZT`` (hex
characters, like its 4 HEX bytes), of ``DRP``/``DRZn`` (their 12 or 24 bytes as hex characters,
as sl651_bridge reads them) and of the multi-packet field (as sl651_bridge writes it); and how a
missing value is written (a value that is not a number is decoded as None and its text kept in
``raw``; :func:`encode_frame` refuses to invent a marker for a missing value in ASCII mode).

Uniform-interval series (function 31, and the answer to a period-data query, 38): after the
observation time comes the time-step code ``04 18 DDhhmm`` (ASCII ``DRxnn``), then one element
identifier and data-definition byte followed by one value per time step, the first observed at
the observation time and value *i* at observation time + *i* × step. In HEX/BCD mode the values
run to the end of the body (or to the next ``F0 F0``), so their count is the bytes left divided
by the size of one value; in ASCII mode they run while the words are numbers. A step of zero
(``04 18 000000``, sent before the hourly arrays ``F4``–``FC``) starts no series. Decoded, such
an element has its values in ``values`` (None where all F) and the step in ``time_step``.
Sources: two published frames whose CRCs check, a Fujian station's (station 1000000006,
observed 2022-12-05 10:05, step 5 minutes, 12 levels, sent 11:00:19; in wainshine/SL651,
sl651-toolkit/examples/fujian_messages.txt, "福建省水文监测数据接入规定 V1.0 示例报文") and one in
gaoming2222/Protocol_WH-master (Protocol.Data.GY/UpParser.cs: observed 2018-04-09 23:00, step 5
minutes, 13 accumulated rainfalls, sent 2018-04-10 00:00:00): in both the last value falls at
the send time only if the first falls at the observation time; yushun1990/sl651_bridge
(protocol/src/body.rs, "第一组数据的观测时间"; bridge/src/pipeline.rs, base + step × i) and the
audit notes of wainshine/SL651 (sl651-toolkit/audit/audit_report_v2.4.md: "标识符组一次 + 多组数据",
§6.6.4.4 Table 30 note d). Not confirmed by any source read, so not decoded: several
identifiers before the values (sl651_bridge's reading of Table 30 for ASCII mode, time first);
in HEX/BCD mode they cannot be told from values, in ASCII mode a symbol followed by another
symbol after a time-step code is refused (:class:`Sl651Error`).

Multi-packet messages (SYN, mode M3): the bodies of packets 1 to *total*, in sequence order,
joined, are one body; only packet 1 carries the serial number, send time, station and
observation time. :func:`decode_frame` keeps a packet's body undecoded (``packets``, ``body``);
:func:`decode_body` decodes the joined body. Sources: the station side of
yu-xiaoyao/sl651-2014-server (netty-client M3PacketSplitter.java: header in packet 1 only, ETB
then ETX) and its centre (SL651TcpInboundHandler.java, M3Message.getM3Body); a station's
firmware in the public code index (camera.c, "只有第一包需要正文信息"); the packets of a picture
published in blog.csdn.net/doom66151/article/details/147009230 (packet 43 of 43 starts with
picture bytes) and the Fujian picture frame above (packet 1 of 4). A picture (36) is the
element ``F3 F3`` followed by the picture's bytes to the end of the body (``picture``); in ASCII
mode ``PIC`` and the bytes as they are, then one space (as sl651_bridge reads it: assumed).

Vendor blocks. Real RTU firmware writes blocks the standard does not define, some as an
identifier written twice (``79 79``, ``7D 7D``, ``F9 F9``), copying the standard's own ``F0 F0``
... ``F3 F3``, followed by bytes whose length no data-definition byte gives. Such a block, or any
element that cannot be laid out (truncated, a BCD element whose value is not BCD), does not
lose the frame: the elements before it are given, decoding resumes at the next plausible
standard item (:func:`_resync` says how and why) and the bytes in between, or the rest of the
body, are kept in ``unparsed`` with the byte offset where alignment was lost and the reason.
Arrays ``F4``–``FC`` are read at their fixed size whatever their data-definition byte.

Configuration, query and control frames (functions 40H to 51H) have bodies of their own: the
station address without a class, then parameters whose identifiers mean what the parameter
tables say (:mod:`shuian.telemetry.sl651_params`), decoded into ``parameters``, never into
``elements``. A manual entry (35H, ``F2 F2``) keeps its text in ``manual_entry``.

Examples
--------
>>> frame = decode_frame(bytes.fromhex(
...     "7E7E010012345678123430002B020003591011154947F1F1001234567848F0F0591011154920190000"
...     "052619000005392300000127381211150320FA"))
>>> frame.valid_crc, frame.function_name, [(e.id, e.value) for e in frame.elements]
(True, 'test', [('20', 0.5), ('26', 0.5), ('39', 0.127), ('38', 11.15)])
>>> ascii_frame = encode_frame(frame, mode="ascii")
>>> ascii_frame[24:-5].decode()
'0003591011154947ST 0012345678 H TT 5910111549 PJ 0.5 PT 0.5 Z 0.127 VT 11.15 '
>>> [(e.id, e.value) for e in decode_frame(ascii_frame).elements] == [
...     (e.id, e.value) for e in frame.elements]
True
"""

from __future__ import annotations

import datetime as dt
import re
import string
from dataclasses import dataclass, field, replace
from typing import Literal

from shuian.errors import Sl651Error
from shuian.telemetry.sl651_params import (
    CONFIGURATION_FUNCTIONS,
    Parameter,
    parameter,
    parameter_table,
)

__all__ = [
    "ASCII_HEADER",
    "ELEMENTS",
    "FUNCTION_CODES",
    "HEADER",
    "ElementInfo",
    "Element",
    "Mode",
    "Sl651Error",
    "Sl651Frame",
    "Unparsed",
    "acknowledgement",
    "crc16",
    "decode_body",
    "decode_frame",
    "element",
    "encode_frame",
    "frame_size",
    "header_size",
]

START = b"\x7e\x7e"
SOH = 0x01
STX, SYN = 0x02, 0x16
ETX, ETB, ENQ, EOT, ACK, NAK, ESC = 0x03, 0x17, 0x05, 0x04, 0x06, 0x15, 0x1B
UP_ENDS = {ETX: "ETX", ETB: "ETB"}
DOWN_ENDS = {ENQ: "ENQ", EOT: "EOT", ESC: "ESC", ACK: "ACK", NAK: "NAK"}
HEADER = 13  # bytes before the start-of-text character, HEX/BCD mode
ASCII_HEADER = 23  # bytes before the start-of-text character, ASCII mode
OBSERVED = b"\xf0\xf0"
STATION = b"\xf1\xf1"
PICTURE = b"\xf3\xf3"
MANUAL = b"\xf2\xf2"
#: Data-definition byte some stations send after ``F0``/``F1`` instead of repeating it (5 bytes,
#: no decimals): gaoming2222/Protocol_WH-master's published uniform-interval frame.
FIVE_BYTES = 0x28
#: Function codes whose time-step code starts a series: uniform-interval report, period data.
SERIES_FUNCTIONS = frozenset({0x31, 0x38})

Kind = Literal["bcd", "hex", "rain5", "level5", "timestep"]
Mode = Literal["hex", "ascii"]

FUNCTION_CODES: dict[int, str] = {
    0x2F: "link keep-alive",
    0x30: "test",
    0x31: "uniform-interval",
    0x32: "timed",
    0x33: "added",
    0x34: "hourly",
    0x35: "manual entry",
    0x36: "picture",
    0x37: "query real-time data",
    0x38: "query period data",
    0x39: "query manual entry",
    0x3A: "query element",
    0x40: "modify basic configuration",
    0x41: "read basic configuration",
    0x42: "modify runtime parameters",
    0x43: "read runtime parameters",
    0x44: "query pump motor real-time data",
    0x45: "query software version",
    0x46: "query status and alarm",
    0x47: "initialise solid-state storage",
    0x48: "restore factory settings",
    0x49: "modify password",
    0x4A: "set station clock",
    0x4B: "set IC card state",
    0x4C: "pump control",
    0x4D: "valve control",
    0x4E: "gate control",
    0x4F: "water quota control",
    0x50: "query event record",
    0x51: "query station clock",
}
"""Function codes of Annex B; 40–51 are configuration, query and control, E0–FF user-defined.

Checked against the function-code lists of yu-xiaoyao/sl651-2014-server (codec/Decoders.java,
40H to 51H) and blog.csdn.net/weixin_44815745/article/details/144933491 (2F 链路维持报 ... 3A
查询指定要素), and the function names of the Fujian replies in wainshine/SL651
(sl651-toolkit/examples/fujian_messages.txt: 0x41 读取基本配置 ... 0x51 查询时钟).
"""


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

# ASCII-mode symbols (upper case) to identifiers; the time-step code is a pattern, not a symbol.
_BY_SYMBOL = {info.symbol.upper(): ident for ident, info in ELEMENTS.items() if ident != "04"}
_STEP = re.compile(r"DR([DHN])(\d\d)")
_STEP_UNITS = {"D": (1440, 31), "H": (60, 23), "N": (1, 59)}
_NUMBER = re.compile(r"(-?)(\d+)(?:\.(\d+))?")


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


@dataclass(frozen=True)
class Unparsed:
    """Bytes of a body that could not be laid out as elements, kept whole.

    ``offset`` is the byte where alignment was lost: counted from the frame's first byte
    (``7E``) for :func:`decode_frame`, from the body's first byte for :func:`decode_body`.
    ``data`` are the bytes from there to where decoding resumed (or to the end of the body);
    ``reason`` says why, and where decoding resumed.
    """

    offset: int
    data: bytes
    reason: str


@dataclass(frozen=True)
class Sl651Frame:
    """A decoded (or to be encoded) frame; the CRC fields are set by :func:`decode_frame`.

    ``station`` is the address as 10 hex digits; ``password`` 4 hex digits; ``station_class``
    the letter after ``F1 F1`` (``H`` river, ``K`` reservoir, ``P`` rainfall, ...). Frames of a
    multi-packet message (SYN) keep their body undecoded in ``body``, with ``packets`` = (total,
    sequence); :func:`decode_body` decodes the joined bodies. ``picture`` holds the bytes after
    ``F3 F3`` (a picture, function 36), None when there is none. ``mode`` is the encoding the
    frame came in (``"hex"`` for HEX/BCD, ``"ascii"``) and the one :func:`encode_frame` and
    :func:`acknowledgement` use by default.

    ``parameters`` hold what a configuration, query or control frame (function 40H to 51H)
    carries, laid out by the standard's parameter tables (:mod:`shuian.telemetry.sl651_params`):
    never readings. ``manual_entry`` is the text after ``F2 F2`` (manual entry, 人工置数).
    ``unparsed`` are the parts of the body that could not be laid out (vendor blocks), each
    with its offset and reason; the elements before and after them are in ``elements``.
    """

    center: int
    station: str
    password: str
    function_code: int
    serial: int | None
    send_time: dt.datetime | None
    direction: Literal["up", "down"] = "up"
    station_class: str | None = None
    observed_time: dt.datetime | None = None
    elements: tuple[Element, ...] = ()
    end: int = ETX
    packets: tuple[int, int] | None = None
    body: bytes = b""
    picture: bytes | None = None
    valid_crc: bool = True
    crc_expected: int = 0
    crc_found: int = 0
    mode: Mode = "hex"
    parameters: tuple[Parameter, ...] = ()
    manual_entry: str | None = None
    unparsed: tuple[Unparsed, ...] = ()

    @property
    def function_name(self) -> str:
        """Name of the function code (Annex B)."""
        code = self.function_code
        if code in FUNCTION_CODES:
            return FUNCTION_CODES[code]
        if code >= 0xE0:
            return "user-defined"
        return "unknown"

    @property
    def is_configuration(self) -> bool:
        """A configuration, query or control frame (40H to 51H): its values are not readings."""
        return self.function_code in CONFIGURATION_FUNCTIONS


def crc16(data: bytes) -> int:
    """CRC of SL 651-2014: CRC-16/MODBUS, polynomial X^16+X^15+X^2+1, sent high byte first.

    Examples
    --------
    >>> hex(crc16(b"123456789"))
    '0x4b37'
    """
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


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


# --- decoding -------------------------------------------------------------------------------


def header_size(head: bytes) -> int:
    """How many bytes :func:`frame_size` needs, from the first byte of a frame.

    :data:`HEADER` (13) for HEX/BCD mode (``7E``), :data:`ASCII_HEADER` (23) for ASCII mode
    (``SOH 01``). Reading :data:`HEADER` bytes first is always safe: it is the smaller.

    Raises
    ------
    Sl651Error
        ``head`` starts with neither.
    """
    if head[:1] == bytes([SOH]):
        return ASCII_HEADER
    if head[:1] == START[:1]:
        return HEADER
    raise _bad_start(head)


def frame_size(head: bytes) -> int:
    """The size in bytes of the whole frame whose header is ``head``.

    For cutting frames out of a byte stream: read :func:`header_size` bytes (:data:`HEADER`,
    13, in HEX/BCD mode; :data:`ASCII_HEADER`, 23, in ASCII mode), then the rest.

    Raises
    ------
    Sl651Error
        ``head`` does not start with the start characters, is shorter than the header, or (ASCII
        mode) its length field is not 3 hex characters.
    """
    if head[:1] == bytes([SOH]):
        if len(head) < ASCII_HEADER:
            raise Sl651Error(len(head), f"frame ends inside the header ({len(head)} bytes, "
                                        f"the ASCII header is {ASCII_HEADER})")
        return ASCII_HEADER + 1 + _hex_number(head, 20, 3, "length") + 1 + 4
    if head[:2] != START:
        raise _bad_start(head)
    if len(head) < HEADER:
        raise Sl651Error(len(head), f"frame ends inside the header ({len(head)} bytes)")
    length = int.from_bytes(head[11:13], "big") & 0x0FFF
    return HEADER + 1 + length + 1 + 2


def decode_frame(data: bytes) -> Sl651Frame:
    """Decode one frame, HEX/BCD (``7E 7E``) or ASCII (``SOH 01``) mode, told by its first byte.

    Parameters
    ----------
    data
        The whole frame, from the start characters to the CRC.

    Returns
    -------
    Sl651Frame
        A CRC that does not match is not an error: ``valid_crc`` is False and ``crc_expected``
        (computed) and ``crc_found`` (sent) both say what they are.

    Raises
    ------
    Sl651Error
        Bad start characters, a frame shorter or longer than its length field says, an unknown
        start-of-text or end character, a truncated element or time, a header field that is not
        hex (ASCII mode); the message names the byte offset.
    """
    if data[:1] == bytes([SOH]):
        return _decode_ascii(data)
    if data[:2] != START:
        raise _bad_start(data)
    if len(data) < HEADER + 1:
        raise Sl651Error(len(data), f"frame ends inside the header ({len(data)} bytes, "
                                    f"the header is {HEADER + 1})")
    flag, length = data[11] >> 4, int.from_bytes(data[11:13], "big") & 0x0FFF
    if flag not in (0x0, 0x8):
        raise Sl651Error(11, f"direction flag {flag:X}, expected 0 (up) or 8 (down)")
    direction: Literal["up", "down"] = "up" if flag == 0 else "down"
    center, station = (data[2], data[3:8]) if direction == "up" else (data[7], data[2:7])
    expected_len = HEADER + 1 + length + 1 + 2
    if len(data) != expected_len:
        raise Sl651Error(11, f"length field says {length} body bytes, so {expected_len} bytes "
                             f"in all, but the frame has {len(data)}")
    start, end_at = data[HEADER], HEADER + 1 + length
    end = _check_marks(data, HEADER, end_at, direction)
    crc_expected = crc16(data[:-2])
    crc_found = int.from_bytes(data[-2:], "big")
    head = Sl651Frame(
        center=center, station=station.hex().upper(), password=data[8:10].hex().upper(),
        function_code=data[10], serial=None, send_time=None, direction=direction, end=end,
        valid_crc=crc_expected == crc_found, crc_expected=crc_expected, crc_found=crc_found,
    )
    pos = HEADER + 1
    if start == SYN:
        if length < 3:
            raise Sl651Error(pos, "a multi-packet frame needs 3 bytes of packet total and "
                                  "sequence after SYN")
        packed = int.from_bytes(data[pos:pos + 3], "big")
        return replace(head, packets=(packed >> 12, packed & 0xFFF), body=data[pos + 3:end_at])
    return _decode_body(data, pos, end_at, head)


def _bad_start(data: bytes) -> Sl651Error:
    shown = data[:2].hex().upper() or "missing"
    if data[:1] == START[:1]:
        return Sl651Error(0, f"start characters {shown}, expected 7E7E (HEX/BCD mode)")
    return Sl651Error(0, f"start characters {shown}, expected 7E7E (HEX/BCD mode) or "
                         "01 SOH (ASCII mode)")


def _check_marks(data: bytes, start_at: int, end_at: int, direction: str) -> int:
    """Check the start-of-text and end characters; returns the end character."""
    if data[start_at] not in (STX, SYN):
        raise Sl651Error(start_at, f"start-of-text character {data[start_at]:02X}, "
                                   "expected 02 or 16")
    end = data[end_at]
    ends = UP_ENDS if direction == "up" else DOWN_ENDS
    if end not in ends:
        names = ", ".join(f"{c:02X} {n}" for c, n in ends.items())
        raise Sl651Error(end_at, f"end character {end:02X} is not one of an {direction} frame "
                                 f"({names})")
    return end


def decode_body(head: Sl651Frame, body: bytes) -> Sl651Frame:
    """Decode the body of a report on its own: the joined bodies of a multi-packet message.

    The body is what follows the start-of-text character (and, in a multi-packet frame, the
    packet numbers) up to the end character: serial number, send time, station, observation
    time, elements, in the mode of ``head``. Packets 1 to *total* of a message (SYN), in
    sequence order, joined, make one body; only packet 1 carries the serial number and send
    time (see the module's notes for the sources).

    Parameters
    ----------
    head
        A frame of the message (any packet, from :func:`decode_frame`): its centre, station,
        password, function code, direction and mode are kept.
    body
        The body bytes.

    Returns
    -------
    Sl651Frame
        ``head`` with the decoded fields, ``packets`` None and ``body`` empty.

    Raises
    ------
    Sl651Error
        As :func:`decode_frame`; offsets count from the first byte of ``body``.

    Examples
    --------
    Packet 1 of 2 of a picture (function 36), decoded on its own:

    >>> packet = decode_frame(bytes.fromhex(
    ...     "7E7E0100123456781234360017" "16002001" "0001240102080000" "F1F1001234567848"
    ...     "F3F3" "FFD8" "17A3E5"))
    >>> packet.packets, packet.serial, decode_body(packet, packet.body).picture.hex()
    ((2, 1), None, 'ffd8')
    """
    base = replace(head, packets=None, body=b"", end=ETX)
    if head.mode == "ascii":
        return _decode_ascii_body(body, 0, len(body), base)
    return _decode_body(body, 0, len(body), base)


def _decode_body(data: bytes, pos: int, stop: int, head: Sl651Frame) -> Sl651Frame:
    """A report's body (or, for 40H to 51H, a configuration frame's: :func:`_decode_config`).

    What cannot be laid out does not lose the frame: see :func:`_resync`.
    """
    _need(data, pos, 8, stop, "serial number and send time")
    serial = int.from_bytes(data[pos:pos + 2], "big")
    send_time = _bcd_time(data, pos + 2, 6)
    pos += 8
    if head.function_code in CONFIGURATION_FUNCTIONS and head.function_code != 0x44:
        return _decode_config(data, pos, stop, replace(head, serial=serial, send_time=send_time))
    station_class: str | None = None
    first_observed: dt.datetime | None = None
    observed: dt.datetime | None = None
    step: dt.timedelta | None = None
    picture: bytes | None = None
    manual: str | None = None
    series = head.function_code in SERIES_FUNCTIONS
    elements: list[Element] = []
    unparsed: list[Unparsed] = []
    while pos < stop:
        at = pos
        try:
            if _marker(data, pos, STATION):
                _need(data, pos, 8, stop, "station address element (F1F1)")
                station_class = chr(data[pos + 7])
                pos += 8
            elif _marker(data, pos, OBSERVED):
                _need(data, pos, 7, stop, "observation time element (F0F0)")
                observed = _bcd_time(data, pos + 2, 5)
                if first_observed is None:
                    first_observed = observed
                step = None
                pos += 7
            elif data[pos:pos + 2] == PICTURE:
                picture = data[pos + 2:stop]
                pos = stop
            elif data[pos:pos + 2] == MANUAL:
                # Manual entry (人工置数): its text runs to the end of the body.
                manual = data[pos + 2:stop].decode("latin-1")
                pos = stop
            else:
                item, pos = _decode_element(data, pos, stop, step)
                if item.id == "04" and series:
                    step = _step(item)
                if observed != first_observed:
                    item = replace(item, observed_time=observed)
                elements.append(item)
        except Sl651Error as exc:
            skip = 2 if _doubled(data, at) else 1
            resumed = _resync(data, at + skip, stop)
            where = (f"decoding resumed at byte {resumed}" if resumed is not None
                     else "nothing after it could be laid out, kept to the end of the body")
            problem = exc.problem if exc.offset == at else f"byte {exc.offset}: {exc.problem}"
            unparsed.append(Unparsed(at, data[at:resumed if resumed is not None else stop],
                                     f"{problem}; {where}"))
            pos = resumed if resumed is not None else stop
    return replace(
        head, serial=serial, send_time=send_time, station_class=station_class,
        observed_time=first_observed, elements=tuple(elements), picture=picture,
        manual_entry=manual, unparsed=tuple(unparsed),
    )


def _doubled(data: bytes, pos: int) -> bool:
    """Whether ``pos`` starts a vendor block: an identifier written twice.

    An identifier outside Annex C written twice (``79 79``, ``7D 7D``), or an array identifier
    written twice (``F9 F9``): a block whose length no data-definition byte gives.

    The standard writes ``F0 F0``, ``F1 F1``, ``F2 F2`` and ``F3 F3`` so (Table C.1, notes a to
    d, as sl651_bridge reads them): blocks of their own layout, not a data-definition byte.
    Vendors copy the pattern for their own blocks.
    """
    if pos + 1 >= len(data) or data[pos] != data[pos + 1] or data[pos] == 0xFF:
        return False
    info = ELEMENTS.get(f"{data[pos]:02X}")
    return info is None or info.kind in ("rain5", "level5")


def _resync(data: bytes, start: int, stop: int) -> int | None:
    """Where standard elements begin again after bytes that could not be laid out, or None.

    Scans forward, byte by byte from ``start``, for the first offset that begins a plausible
    standard item: an observation time ``F0 F0`` with a valid BCD time, or an Annex C
    identifier whose data-definition byte gives that element's size (arrays ``F4``–``FC``:
    their fixed 12 or 24 bytes; others: 1 byte to one more than the usual size, decimals no
    more than the digits) with a value that is BCD (or all F, or FF then BCD) and fits before the
    end of the body. One such item is not enough, since vendor bytes can look like one by
    chance: it must end exactly at the end of the body or at ``F0 F0``, or be followed by a
    second plausible item. Chance alignment of two length-consistent BCD items is rare, and
    taking the first offset that passes keeps every element after the break that can be kept.
    When nothing passes, the remainder is kept raw: guessing a layout would store wrong
    readings, which is worse than keeping bytes that a person can read later.
    """
    for candidate in range(start, stop - 1):
        end = _plausible(data, candidate, stop)
        if end is None:
            continue
        if end == stop or _marker(data, end, OBSERVED) or _plausible(data, end, stop):
            return candidate
    return None


def _plausible(data: bytes, pos: int, stop: int) -> int | None:
    """The end of a plausible standard item at ``pos`` (see :func:`_resync`), else None."""
    if pos + 2 > stop:
        return None
    if _marker(data, pos, OBSERVED):
        if pos + 7 > stop:
            return None
        try:
            _bcd_time(data, pos + 2, 5)
        except Sl651Error:
            return None
        return pos + 7
    info = ELEMENTS.get(f"{data[pos]:02X}")
    if info is None:
        return None
    if _doubled(data, pos):
        return None
    size, decimals = data[pos + 1] >> 3, data[pos + 1] & 0x07
    if info.kind in ("rain5", "level5"):
        size = info.size
    end = pos + 2 + size
    if end > stop or size == 0:
        return None
    raw = data[pos + 2:end]
    if info.kind in ("rain5", "level5", "timestep"):
        return end if info.kind != "timestep" or _is_bcd(raw) else None
    if info.kind == "hex":
        return end if size == info.size else None
    if size > info.size + 1 or decimals > 2 * size:
        return None
    return end if _is_bcd(raw) else None


def _is_bcd(raw: bytes) -> bool:
    """BCD digits, all F (missing), or FF then BCD digits (negative)."""
    if raw == b"\xff" * len(raw):
        return True
    digits = (raw[1:] if raw[:1] == b"\xff" else raw).hex()
    return digits.isdigit()


def _decode_config(data: bytes, pos: int, stop: int, head: Sl651Frame) -> Sl651Frame:
    """The body of a configuration, query or control frame after its send time.

    ``F1 F1`` and the station address (no station class), then per function (see
    :mod:`shuian.telemetry.sl651_params` for the layouts and their sources): parameters
    (identifier, data-definition byte, value), a version string (45H), event counters (50H),
    or nothing. What is not laid out is kept in ``unparsed`` with its offset and reason.
    """
    code = head.function_code
    parameters: list[Parameter] = []
    unparsed: list[Unparsed] = []
    if _marker(data, pos, STATION) and pos + 7 <= stop:
        pos += 7
    if code == 0x45 and pos < stop:
        count = data[pos]
        text = data[pos + 1:pos + 1 + count]
        parameters.append(Parameter("version", "software version", None,
                                    text.decode("latin-1"), "", text.hex().upper()))
        pos = min(pos + 1 + count, stop)
    elif code == 0x50:
        number = 1
        while pos + 2 <= stop:
            raw = data[pos:pos + 2]
            parameters.append(Parameter(f"ERC{number}", f"event record counter {number}",
                                        float(int.from_bytes(raw, "big")), "", "",
                                        raw.hex().upper()))
            pos, number = pos + 2, number + 1
    elif 0x4B <= code <= 0x4F:
        if pos < stop:
            unparsed.append(Unparsed(pos, data[pos:stop], f"function {code:02X}H "
                                     f"({FUNCTION_CODES[code]}): its reply's layout is not "
                                     "confirmed by any source read, kept whole"))
        pos = stop
    table = parameter_table(code)
    while pos < stop:
        if pos + 2 > stop:
            unparsed.append(Unparsed(pos, data[pos:stop], f"parameter {data[pos]:02X}: "
                                     "data-definition byte missing"))
            break
        ident, size, decimals = data[pos], data[pos + 1] >> 3, data[pos + 1] & 0x07
        if pos + 2 + size > stop:
            unparsed.append(Unparsed(pos, data[pos:stop], f"parameter {ident:02X} truncated: "
                                     f"its data-definition byte {data[pos + 1]:02X} says "
                                     f"{size} bytes, the body has {stop - pos - 2} left"))
            break
        parameters.append(parameter(ident, size, decimals, data[pos + 2:pos + 2 + size], table))
        pos += 2 + size
    return replace(head, parameters=tuple(parameters), unparsed=tuple(unparsed))


def _marker(data: bytes, pos: int, mark: bytes) -> bool:
    """``F0 F0`` or ``F1 F1`` at ``pos``, or the variant with data-definition byte 28."""
    return data[pos:pos + 1] == mark[:1] and data[pos + 1:pos + 2] in (mark[1:],
                                                                      bytes([FIVE_BYTES]))


def _step(item: Element) -> dt.timedelta | None:
    """The time step a time-step code element gives (None for a step of zero or missing)."""
    if item.value is None or item.value <= 0:
        return None
    return dt.timedelta(minutes=item.value)


def _need(data: bytes, pos: int, count: int, stop: int, what: str) -> None:
    if pos + count > stop:
        raise Sl651Error(pos, f"{what} truncated: needs {count} bytes, the body has "
                              f"{max(stop - pos, 0)} left")


def _bcd_time(data: bytes, pos: int, count: int) -> dt.datetime:
    return _time(data[pos:pos + count].hex().upper(), pos, "BCD ")


def _time(digits: str, pos: int, coding: str = "") -> dt.datetime:
    """A time from its digits YYMMDDhhmm[ss] (12 or 10 of them), starting at byte ``pos``."""
    layout = "YYMMDDhhmmss" if len(digits) >= 12 else "YYMMDDhhmm"
    if len(digits) not in (10, 12) or not digits.isdigit() or not digits.isascii():
        problem = "not digits" if len(digits) in (10, 12) else f"{len(digits)} characters"
        raise Sl651Error(pos, f"time {digits} is not a {coding}{layout} ({problem})")
    parts = [int(digits[i:i + 2]) for i in range(0, len(digits), 2)]
    try:
        seconds = parts[5] if len(parts) == 6 else 0
        return dt.datetime(2000 + parts[0], parts[1], parts[2], parts[3], parts[4], seconds)
    except ValueError as exc:
        raise Sl651Error(pos, f"time {digits} is not a {coding}{layout} ({exc})") from None


def _decode_element(
    data: bytes, pos: int, stop: int, step: dt.timedelta | None = None
) -> tuple[Element, int]:
    """One element at ``pos``; with a ``step``, a scalar element is a uniform-interval series."""
    at = pos
    ident = f"{data[pos]:02X}"
    pos += 1
    if ident == "FF":  # two-byte user code FF xx
        _need(data, at, 3, stop, f"user element FF at offset {at}")
        ident += f"{data[pos]:02X}"
        pos += 1
    _need(data, at, pos - at + 1, stop, f"element {ident}: data-definition byte")
    if _doubled(data, at):
        raise Sl651Error(at, f"vendor block {ident} {ident}: an identifier written twice, "
                             "whose length no data-definition byte gives (not in SL 651)")
    size, decimals = data[pos] >> 3, data[pos] & 0x07
    pos += 1
    info = ELEMENTS.get(ident)
    kind: Kind = info.kind if info is not None else "bcd"
    if step is not None and kind in ("bcd", "hex") and size > 0:
        return _decode_series(data, at, pos, stop, ident, size, decimals, step)
    if info is not None and kind in ("rain5", "level5"):
        # Arrays have a fixed size (Table C.1: 12 and 24 bytes), whatever the data-definition
        # byte says: a Fujian station writes F5 5C before its 24 bytes (tests/data/sl651), and
        # sl651_bridge (protocol/src/body.rs) reads arrays at their fixed size likewise.
        size = info.size
    if pos + size > stop:
        raise Sl651Error(at, f"element {ident} truncated: its data-definition byte "
                             f"{data[pos - 1]:02X} says {size} bytes, the body has "
                             f"{stop - pos} left")
    raw = data[pos:pos + size]
    if info is not None and kind == "bcd" and size and not _is_bcd(raw):
        raise Sl651Error(at, f"element {ident} ({info.symbol}): value {raw.hex().upper()} is "
                             "not BCD, so the bytes before it were not laid out as sent")
    if (info is not None and kind == "timestep" and raw != b"\xff" * size
            and (size != info.size or not raw.hex().isdigit())):
        raise Sl651Error(at, f"element {ident} ({info.symbol}): value {raw.hex().upper()} "
                             f"(data-definition byte {data[pos - 1]:02X}) is not a time-step "
                             f"code, {info.size} bytes of BCD DDhhmm")
    value, values = _value(raw, decimals, kind)
    if info is None:
        value = _vendor_value(raw, value, decimals)
        item = Element(ident, f"element {ident}", value, "", False, decimals, size,
                       raw=raw.hex().upper())
    else:
        item = Element(ident, info.name, value, info.unit, True, decimals, size,
                       symbol=info.symbol, values=values, raw=raw.hex().upper())
    return item, pos + size


def _vendor_value(raw: bytes, value: float | None, decimals: int) -> float | None:
    """A vendor element whose bytes are not BCD is read as a HEX number."""
    if value is None and raw and raw != b"\xff" * len(raw):
        number: float = int.from_bytes(raw, "big") / 10**decimals
        return number
    return value


def _decode_series(
    data: bytes, at: int, pos: int, stop: int, ident: str, size: int, decimals: int,
    step: dt.timedelta,
) -> tuple[Element, int]:
    """The values of a uniform-interval series: ``size`` bytes each, to ``stop`` or F0 F0."""
    info = ELEMENTS.get(ident)
    kind: Kind = info.kind if info is not None else "bcd"
    start = pos
    values: list[float | None] = []
    while pos < stop and not _marker(data, pos, OBSERVED):
        if pos + size > stop:
            raise Sl651Error(pos, f"uniform-interval values of element {ident}: {stop - pos} "
                                  f"bytes left, not a whole {size}-byte value (its "
                                  f"data-definition byte {data[start - 1]:02X} says {size})")
        raw = data[pos:pos + size]
        value, _ = _value(raw, decimals, kind)
        values.append(_vendor_value(raw, value, decimals) if info is None else value)
        pos += size
    if not values:
        raise Sl651Error(at, f"element {ident} after a time-step code has no value")
    raw_hex = data[start:pos].hex().upper()
    if info is None:
        return Element(ident, f"element {ident}", None, "", False, decimals, size,
                       values=tuple(values), time_step=step, raw=raw_hex), pos
    return Element(ident, info.name, None, info.unit, True, decimals, size, symbol=info.symbol,
                   values=tuple(values), time_step=step, raw=raw_hex), pos


def _value(raw: bytes, decimals: int, kind: Kind) -> tuple[float | None, tuple[float | None, ...]]:
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


# --- decoding, ASCII mode -------------------------------------------------------------------


def _decode_ascii(data: bytes) -> Sl651Frame:
    if len(data) < ASCII_HEADER + 1:
        raise Sl651Error(len(data), f"frame ends inside the header ({len(data)} bytes, "
                                    f"the ASCII header is {ASCII_HEADER + 1})")
    flag = data[19:20].decode("latin-1")
    if flag not in ("0", "8"):
        raise Sl651Error(19, f"direction flag {flag!r}, expected '0' (up) or '8' (down)")
    direction: Literal["up", "down"] = "up" if flag == "0" else "down"
    center_at, station_at = (1, 3) if direction == "up" else (11, 1)
    center = _hex_number(data, center_at, 2, "centre address")
    station = _hex_text(data, station_at, 10, "station address")
    password = _hex_text(data, 13, 4, "password")
    function = _hex_number(data, 17, 2, "function code")
    length = _hex_number(data, 20, 3, "length")
    expected_len = ASCII_HEADER + 1 + length + 1 + 4
    if len(data) != expected_len:
        raise Sl651Error(19, f"length field says {length} body characters, so {expected_len} "
                             f"bytes in all, but the frame has {len(data)}")
    start, end_at = data[ASCII_HEADER], ASCII_HEADER + 1 + length
    end = _check_marks(data, ASCII_HEADER, end_at, direction)
    crc_found = _hex_number(data, len(data) - 4, 4, "CRC")
    crc_expected = crc16(data[:-4])
    head = Sl651Frame(
        center=center, station=station, password=password, function_code=function,
        serial=None, send_time=None, direction=direction, end=end,
        valid_crc=crc_expected == crc_found, crc_expected=crc_expected, crc_found=crc_found,
        mode="ascii",
    )
    pos = ASCII_HEADER + 1
    if start == SYN:
        if length < 6:
            raise Sl651Error(pos, "a multi-packet frame needs 6 characters of packet total and "
                                  "sequence after SYN")
        packets = (_hex_number(data, pos, 3, "packet total"),
                   _hex_number(data, pos + 3, 3, "packet sequence"))
        return replace(head, packets=packets, body=data[pos + 6:end_at])
    return _decode_ascii_body(data, pos, end_at, head)


def _hex_text(data: bytes, pos: int, count: int, what: str) -> str:
    text = data[pos:pos + count].decode("latin-1")
    if len(text) < count or any(c not in string.hexdigits for c in text):
        raise Sl651Error(pos, f"{what} {text!r} is not {count} hex characters")
    return text.upper()


def _hex_number(data: bytes, pos: int, count: int, what: str) -> int:
    return int(_hex_text(data, pos, count, what), 16)


def _tokens(data: bytes, pos: int, stop: int) -> list[tuple[int, str]]:
    """The space-separated words of ``data[pos:stop]``, each with its byte offset."""
    words: list[tuple[int, str]] = []
    while pos < stop:
        if data[pos] == 0x20:
            pos += 1
            continue
        end = data.find(b" ", pos, stop)
        end = stop if end < 0 else end
        words.append((pos, data[pos:end].decode("latin-1")))
        pos = end
    return words


def _decode_ascii_body(data: bytes, pos: int, stop: int, head: Sl651Frame) -> Sl651Frame:
    if pos + 16 > stop:
        raise Sl651Error(pos, f"serial number and send time truncated: needs 16 characters, "
                              f"the body has {stop - pos}")
    serial = _hex_number(data, pos, 4, "serial number")
    send_time = _time(data[pos + 4:pos + 16].decode("latin-1"), pos + 4)
    words = _tokens(data, pos + 16, stop)
    station_class: str | None = None
    first_observed: dt.datetime | None = None
    observed: dt.datetime | None = None
    step: dt.timedelta | None = None
    picture: bytes | None = None
    series = head.function_code in SERIES_FUNCTIONS
    elements: list[Element] = []
    i = 0
    while i < len(words):
        at, word = words[i]
        if word == "PIC":
            # The picture's bytes as they are, then one space (sl651_bridge's reading).
            picture = data[at + 4:stop]
            picture = picture[:-1] if picture.endswith(b" ") else picture
            break
        if word in ("ST", "TT"):
            if i + 1 >= len(words):
                what = "station address (ST)" if word == "ST" else "observation time (TT)"
                raise Sl651Error(at, f"{what} truncated: nothing follows {word}")
            if word == "TT":
                observed = _time(words[i + 1][1], words[i + 1][0])
                if first_observed is None:
                    first_observed = observed
                step = None
                i += 2
                continue
            i += 2
            if i < len(words) and _is_station_class(words, i):
                station_class = words[i][1]
                i += 1
            continue
        item, i = _decode_ascii_element(words, i, step)
        if item.id == "04" and series:
            step = _step(item)
        if observed != first_observed:
            item = replace(item, observed_time=observed)
        elements.append(item)
    return replace(
        head, serial=serial, send_time=send_time, station_class=station_class,
        observed_time=first_observed, elements=tuple(elements), picture=picture,
    )


def _is_station_class(words: list[tuple[int, str]], i: int) -> bool:
    """Whether the word after ``ST`` and its address is the station class.

    The class is one letter (``H``, ``Z``, ...), and so are some symbols: a letter followed by a
    number is an element, not the class.
    """
    word = words[i][1]
    if len(word) != 1 or word not in string.ascii_uppercase:
        return False
    return i + 1 >= len(words) or _NUMBER.fullmatch(words[i + 1][1]) is None


def _decode_ascii_element(
    words: list[tuple[int, str]], i: int, step: dt.timedelta | None = None
) -> tuple[Element, int]:
    """One element at word ``i``; with a ``step``, a scalar element is a series."""
    at, symbol = words[i]
    code = _STEP.fullmatch(symbol)
    if code is not None:
        info = ELEMENTS["04"]
        minutes = int(code[2]) * _STEP_UNITS[code[1]][0]
        return Element("04", info.name, float(minutes), info.unit, True, 0, info.size,
                       symbol=info.symbol, raw=symbol), i + 1
    if _NUMBER.fullmatch(symbol):
        raise Sl651Error(at, f"value {symbol!r} where an element symbol was expected (several "
                             "values after one symbol are read only after a time-step code "
                             "DRxnn, in functions 31 and 38)")
    if i + 1 >= len(words):
        raise Sl651Error(at, f"element {symbol} truncated: its value is missing")
    text = words[i + 1][1]
    ident = _BY_SYMBOL.get(symbol.upper())
    kind: Kind = ELEMENTS[ident].kind if ident is not None else "bcd"
    if step is not None and kind in ("bcd", "hex"):
        return _decode_ascii_series(words, i, ident, step)
    if ident is None:
        number, places, needed = _decimal(text)
        return Element(symbol, f"element {symbol}", number, "", False, places, needed,
                       raw=text), i + 2
    info = ELEMENTS[ident]
    values: tuple[float | None, ...] = ()
    value: float | None = None
    decimals, size = info.decimals, info.size
    if info.kind in ("rain5", "level5"):
        if len(text) % 2 == 0 and all(c in string.hexdigits for c in text):
            raw = bytes.fromhex(text)
            _, values = _value(raw, 0, info.kind)
            size = len(raw)
    elif info.kind == "hex":
        if text and all(c in string.hexdigits for c in text):
            value = int(text, 16) / 10**decimals
            size = max(size, (len(text) + 1) // 2)
    else:
        value, text_decimals, needed = _decimal(text)
        if value is not None:
            decimals, size = text_decimals, max(size, needed)
    return Element(ident, info.name, value, info.unit, True, decimals, size,
                   symbol=info.symbol, values=values, raw=text), i + 2


def _decode_ascii_series(
    words: list[tuple[int, str]], i: int, ident: str | None, step: dt.timedelta
) -> tuple[Element, int]:
    """A symbol and its values, one per time step, while the words are numbers."""
    at, symbol = words[i]
    nxt = words[i + 1][1]
    if _BY_SYMBOL.get(nxt.upper()) is not None or _STEP.fullmatch(nxt) or nxt in ("TT", "ST"):
        raise Sl651Error(at, f"symbol {symbol} followed by {nxt!r} after a time-step code: "
                             "several symbols before their values are not confirmed by any "
                             "source read, so not decoded")
    texts = [nxt]
    j = i + 2
    while j < len(words) and _NUMBER.fullmatch(words[j][1]):
        texts.append(words[j][1])
        j += 1
    parsed = [_decimal(text) for text in texts]
    values = tuple(number for number, _, _ in parsed)
    places = max(p for _, p, _ in parsed)
    needed = max(n for _, _, n in parsed)
    if ident is None:
        return Element(symbol, f"element {symbol}", None, "", False, places, needed,
                       values=values, time_step=step, raw=" ".join(texts)), j
    info = ELEMENTS[ident]
    if info.kind == "hex":
        values = tuple(int(t, 16) / 10**info.decimals
                       if all(c in string.hexdigits for c in t) else None for t in texts)
        places, needed = info.decimals, max(info.size, *((len(t) + 1) // 2 for t in texts))
    return Element(ident, info.name, None, info.unit, True, places, max(info.size, needed),
                   symbol=info.symbol, values=values, time_step=step, raw=" ".join(texts)), j


def _decimal(text: str) -> tuple[float | None, int, int]:
    """Value, decimals and HEX/BCD byte count of a decimal text (None, 0, 0 if not a number)."""
    number = _NUMBER.fullmatch(text)
    if number is None:
        return None, 0, 0
    sign, whole, fraction = number[1], number[2], number[3] or ""
    scaled = int(whole + fraction)
    size = (len(str(scaled)) + 1) // 2 + (1 if sign else 0)  # BCD digits, FF first if negative
    value = scaled / 10 ** len(fraction)
    return (-value if sign else value), len(fraction), size


# --- encoding -------------------------------------------------------------------------------


def encode_frame(frame: Sl651Frame, *, mode: Mode | None = None) -> bytes:
    """The bytes of ``frame``, with its CRC computed (the frame's CRC fields are ignored).

    Elements are grouped under one observation time each (an element's own ``observed_time``,
    else the frame's); an element's ``raw`` is sent when given and ``mode`` is the frame's own.

    Parameters
    ----------
    frame
        The frame to encode.
    mode
        ``"hex"`` (HEX/BCD) or ``"ascii"``; by default the frame's ``mode``.

    Raises
    ------
    ValueError
        A value that does not fit its size and decimals, a malformed address or password, an
        ASCII-only symbol in HEX/BCD mode, or a missing value (None) in ASCII mode, for which no
        source confirms a marker: give the element ``raw=`` the station's text.
    """
    mode = frame.mode if mode is None else mode
    if mode not in ("hex", "ascii"):
        raise ValueError(f"mode {mode!r}: 'hex' (HEX/BCD) or 'ascii'")
    use_raw = mode == frame.mode
    _check_hex(frame.station, 10, "station")
    _check_hex(frame.password, 4, "password")
    if not 0 <= frame.center <= 0xFF or not 0 <= frame.function_code <= 0xFF:
        raise ValueError("centre address and function code are one byte each (0 to 255)")
    ascii_mode = mode == "ascii"
    if frame.packets is not None:
        total, sequence = frame.packets
        if not (0 <= total <= 0xFFF and 0 <= sequence <= 0xFFF):
            raise ValueError(f"packets {frame.packets}: total and sequence are 0 to 4095")
        numbers = (f"{total:03X}{sequence:03X}".encode() if ascii_mode
                   else (total << 12 | sequence).to_bytes(3, "big"))
        body, start = numbers + frame.body, SYN
    else:
        body = _encode_ascii_body(frame, use_raw) if ascii_mode else _encode_body(frame, use_raw)
        start = STX
    if len(body) > 0x0FFF:
        raise ValueError(f"body of {len(body)} bytes: at most 4095 fit the length field")
    up = frame.direction == "up"
    if ascii_mode:
        centre, station = f"{frame.center:02X}", frame.station.upper()
        addresses = (centre + station if up else station + centre).encode()
        head = (bytes([SOH]) + addresses + frame.password.upper().encode()
                + f"{frame.function_code:02X}{'0' if up else '8'}{len(body):03X}".encode()
                + bytes([start]))
    else:
        station_bytes = bytes.fromhex(frame.station)
        addresses = (bytes([frame.center]) + station_bytes if up
                     else station_bytes + bytes([frame.center]))
        flag = 0x0000 if up else 0x8000
        head = (START + addresses + bytes.fromhex(frame.password)
                + bytes([frame.function_code]) + (flag | len(body)).to_bytes(2, "big")
                + bytes([start]))
    unsigned = head + body + bytes([frame.end])
    crc = crc16(unsigned)
    return unsigned + (f"{crc:04X}".encode() if ascii_mode else crc.to_bytes(2, "big"))


def _check_hex(text: str, count: int, what: str) -> None:
    if len(text) != count or any(c not in string.hexdigits for c in text):
        raise ValueError(f"{what} {text!r}: {count} hex digits expected")


def _encode_body(frame: Sl651Frame, use_raw: bool) -> bytes:
    if frame.serial is None or frame.send_time is None:
        raise ValueError("a single-packet frame needs serial and send_time")
    _check_series(frame, hex_mode=True)
    out = bytearray(frame.serial.to_bytes(2, "big"))
    out += bytes.fromhex(frame.send_time.strftime("%y%m%d%H%M%S"))
    if frame.station_class is not None:
        out += STATION + bytes.fromhex(frame.station) + frame.station_class.encode("latin-1")
    current: dt.datetime | None = None
    for item in frame.elements:
        observed = item.observed_time or frame.observed_time
        if observed is not None and observed != current:
            out += OBSERVED + bytes.fromhex(observed.strftime("%y%m%d%H%M"))
            current = observed
        out += _encode_element(item, use_raw)
    if not frame.elements and frame.observed_time is not None:
        out += OBSERVED + bytes.fromhex(frame.observed_time.strftime("%y%m%d%H%M"))
    if frame.picture is not None:
        out += PICTURE + frame.picture
    return bytes(out)


def _check_series(frame: Sl651Frame, *, hex_mode: bool) -> None:
    """Refuse what would not decode back: series out of place, elements a series would eat.

    After a time-step code (functions 31 and 38), every scalar element of the same observation
    time is a series of that step; in HEX/BCD mode a series runs to the next observation time,
    so nothing may follow it there.
    """
    takes_series = frame.function_code in SERIES_FUNCTIONS
    current: object = object()
    step: dt.timedelta | None = None
    closed: str | None = None
    for item in frame.elements:
        observed = item.observed_time or frame.observed_time
        if observed != current:
            current, step, closed = observed, None, None
        if closed is not None:
            raise ValueError(f"element {item.id} follows the series of element {closed} at the "
                             "same observation time: in HEX/BCD mode a series runs to the next "
                             "observation time, give the element its own observed_time")
        info = ELEMENTS.get(item.id) if item.standard else None
        kind: Kind = info.kind if info is not None else "bcd"
        if kind == "timestep":
            step = _step(item) if takes_series else None
            continue
        if item.time_step is not None:
            if not takes_series:
                raise ValueError(f"element {item.id}: a series (time_step) is sent in functions "
                                 "31 and 38 only")
            if item.time_step != step:
                raise ValueError(f"element {item.id}: a series of step {item.time_step} needs a "
                                 "time-step code element 04 of that step before it, at the "
                                 "same observation time")
            if not item.values:
                raise ValueError(f"element {item.id}: a series needs at least one value")
            closed = item.id if hex_mode else None
        elif step is not None and kind in ("bcd", "hex"):
            raise ValueError(f"element {item.id} follows a time-step code: give it values= and "
                             "time_step= (a uniform-interval series)")


def _encode_element(item: Element, use_raw: bool) -> bytes:
    if not 0 <= item.size <= 31 or not 0 <= item.decimals <= 7:
        raise ValueError(f"element {item.id}: size 0..31 and decimals 0..7")
    if len(item.id) not in (2, 4) or any(c not in string.hexdigits for c in item.id):
        raise ValueError(f"element {item.id}: not a HEX/BCD identifier (an ASCII symbol outside "
                         "Annex C cannot be sent in HEX/BCD mode)")
    head = bytes.fromhex(item.id) + bytes([item.size << 3 | item.decimals])
    if item.raw and use_raw:
        return head + bytes.fromhex(item.raw)
    info = ELEMENTS.get(item.id)
    kind: Kind = info.kind if info is not None and item.standard else "bcd"
    if item.time_step is not None:
        return head + b"".join(_encode_value(item, v, kind) for v in item.values)
    if kind == "rain5":
        return head + bytes(0xFF if v is None else round(v * 10) for v in item.values)
    if kind == "level5":
        return head + b"".join(
            (0xFFFF if v is None else round(v * 100)).to_bytes(2, "big") for v in item.values
        )
    return head + _encode_value(item, item.value, kind)


def _encode_value(item: Element, value: float | None, kind: Kind) -> bytes:
    """One value of ``item`` in its size and decimals (all F when missing)."""
    if value is None:
        return b"\xff" * item.size
    if kind == "hex":
        scaled: int = round(value * 10**item.decimals)
        return scaled.to_bytes(item.size, "big")
    if kind == "timestep":
        days, rest = divmod(round(value), 1440)
        return bytes.fromhex(f"{days:02d}{rest // 60:02d}{rest % 60:02d}")
    negative = value < 0
    width = 2 * (item.size - 1 if negative else item.size)
    digits = f"{round(abs(value) * 10**item.decimals):0{width}d}"
    if len(digits) > width:
        raise ValueError(f"element {item.id}: {value} does not fit {item.size} bytes "
                         f"with {item.decimals} decimals")
    return (b"\xff" if negative else b"") + bytes.fromhex(digits)


def _encode_ascii_body(frame: Sl651Frame, use_raw: bool) -> bytes:
    if frame.serial is None or frame.send_time is None:
        raise ValueError("a single-packet frame needs serial and send_time")
    if not 0 <= frame.serial <= 0xFFFF:
        raise ValueError(f"serial {frame.serial}: 0 to 65535")
    _check_series(frame, hex_mode=False)
    words: list[str] = []
    if frame.station_class is not None:
        words += ["ST", frame.station.upper(), frame.station_class]
    current: dt.datetime | None = None
    for item in frame.elements:
        observed = item.observed_time or frame.observed_time
        if observed is not None and observed != current:
            words += ["TT", observed.strftime("%y%m%d%H%M")]
            current = observed
        words += _ascii_element(item, use_raw)
    if not frame.elements and frame.observed_time is not None:
        words += ["TT", frame.observed_time.strftime("%y%m%d%H%M")]
    for word in words:
        if not word or not word.isascii() or not word.isprintable() or " " in word:
            raise ValueError(f"{word!r} cannot be sent in ASCII mode: printable ASCII without "
                             "spaces expected")
    text = f"{frame.serial:04X}{frame.send_time:%y%m%d%H%M%S}" + "".join(w + " " for w in words)
    picture = b"" if frame.picture is None else b"PIC " + frame.picture + b" "
    return text.encode("ascii") + picture


def _ascii_element(item: Element, use_raw: bool) -> list[str]:
    info = ELEMENTS.get(item.id) if item.standard else None
    kind: Kind = info.kind if info is not None else "bcd"
    if kind == "timestep":
        if item.raw and use_raw:
            return [item.raw]
        return [_step_symbol(item)]
    symbol = info.symbol if info is not None else (item.symbol or item.id)
    if item.time_step is not None:
        if item.raw and use_raw:
            return [symbol, *item.raw.split(" ")]
        return [symbol, *(_ascii_value(item, v, kind) for v in item.values)]
    if item.raw and use_raw:
        return [symbol, item.raw]
    if kind == "rain5":
        return [symbol, "".join("FF" if v is None else f"{round(v * 10):02X}"
                                for v in item.values)]
    if kind == "level5":
        return [symbol, "".join("FFFF" if v is None else f"{round(v * 100):04X}"
                                for v in item.values)]
    return [symbol, _ascii_value(item, item.value, kind)]


def _ascii_value(item: Element, value: float | None, kind: Kind) -> str:
    """One value of ``item`` as ASCII-mode text."""
    if value is None:
        raise ValueError(f"element {item.id}: a missing value has no confirmed form in ASCII "
                         "mode: give raw= the text the station sends")
    if kind == "hex":
        return f"{round(value * 10**item.decimals):0{2 * item.size}X}"
    scaled = round(abs(value) * 10**item.decimals)
    digits = f"{scaled:0{item.decimals + 1}d}"
    text = f"{digits[:-item.decimals]}.{digits[-item.decimals:]}" if item.decimals else digits
    return ("-" if value < 0 and scaled else "") + text


def _step_symbol(item: Element) -> str:
    minutes = None if item.value is None else round(item.value)
    for letter, (unit, most) in _STEP_UNITS.items():
        if minutes is not None and minutes % unit == 0 and 1 <= minutes // unit <= most:
            return f"DR{letter}{minutes // unit:02d}"
    raise ValueError(f"element 04: a time step of {item.value} minutes has no DRxnn symbol "
                     "(1 to 59 minutes, 1 to 23 hours or 1 to 31 days)")


def acknowledgement(
    frame: Sl651Frame,
    *,
    send_time: dt.datetime | None = None,
    keep_open: bool = False,
    mode: Mode | None = None,
    packets: tuple[int, int] | None = None,
    nak: bool = False,
) -> bytes:
    """The down frame the centre sends after an up frame, in the mode of that frame.

    Same centre, station, password and function code; flag 8 (down); body = the serial number
    of the frame answered and the centre's send time; end character EOT 04 (close the link) or,
    with ``keep_open``, ESC 1B (keep it open 10 minutes), or NAK 15 (send it again) with
    ``nak``. An answer in a multi-packet exchange (M3) starts with SYN and the packet numbers
    ``packets``: (total, total) once every packet is in, (total, sequence) in the NAK asking for
    packet *sequence* again (as sl651_bridge's ack.rs builds them: assumed, the standard's text
    was not reachable).

    When to send it (transmission modes M1 send/no answer, M2 send/confirm, M3 multi-packet
    send/confirm, M4 query/answer): in M1 the centre answers nothing; in M2 and M4 it answers
    each report, a frame ending ETX with EOT (or ESC to keep the station online) and a frame
    ending ETB (more to come) with ACK 06; in M3 it answers only the last packet (EOT or ESC, the
    sequence being the total) or asks again for a bad one with NAK 15. A link keep-alive (2F) is
    never answered (6.6.4.2). Sources: the reply rules of yushun1990/sl651_bridge
    (protocol/src/ack.rs, citing 6.6.4.2 and the acknowledgement tables), the 2F decoder of
    yu-xiaoyao/sl651-2014-server ("6.6.4.2 链路维持报 ... 不需要回复"), the M1 to M4 names of
    aaasoft/Quick.SL651 (Enums/WorkMode.cs) and Table 10 (ESC: stay online 10 minutes) as quoted
    in sl651-2014-server's ControlChar.java; the standard's own text was not reachable. This
    function builds the EOT/ESC answer only; choosing whether to answer is the caller's.

    Parameters
    ----------
    frame
        The up frame being answered.
    send_time
        The centre's clock; by default the station's send time is repeated, which keeps this
        function pure.
    keep_open
        End with ESC rather than EOT.
    mode
        ``"hex"`` or ``"ascii"``; by default the mode of ``frame``.
    packets
        (total, sequence) for an answer in a multi-packet exchange; ``frame`` is then the
        message decoded by :func:`decode_body` (or any frame with a serial and send time).
    nak
        End with NAK (send again) rather than EOT or ESC.

    Examples
    --------
    The answer to the test report of blog.csdn.net/weixin_42163707/article/details/127638544,
    byte for byte as published there (ESC, the station's send time repeated):

    >>> report = decode_frame(bytes.fromhex(
    ...     "7E7E010012345678123430002B020003591011154947F1F1001234567848F0F0591011154920190000"
    ...     "052619000005392300000127381211150320FA"))
    >>> acknowledgement(report, keep_open=True).hex().upper()
    '7E7E00123456780112343080080200035910111549471B75D4'
    """
    sent = send_time or frame.send_time
    if frame.direction != "up" or frame.serial is None or sent is None:
        raise ValueError("only an up frame with a serial and send time is acknowledged (a "
                         "packet of a multi-packet message: decode_body the joined bodies, or "
                         "give serial and send_time)")
    answer = Sl651Frame(
        center=frame.center, station=frame.station, password=frame.password,
        function_code=frame.function_code, serial=frame.serial, send_time=sent,
        direction="down",
        end=NAK if nak else ESC if keep_open else EOT,
        mode=frame.mode if mode is None else mode,
    )
    if packets is not None:
        body = (_encode_ascii_body if answer.mode == "ascii" else _encode_body)(answer, False)
        answer = replace(answer, packets=packets, body=body)
    return encode_frame(answer)

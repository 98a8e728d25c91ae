"""SL 651-2014 frames: the header, control characters, CRC, function codes, cutting a stream.

Pure functions and data: no I/O. How a body is laid out is the business of the mode's module
(:mod:`~shuian.protocols.sl651.hexmode`, :mod:`~shuian.protocols.sl651.ascii`).

HEX/BCD mode (Tables 20 to 26 of the standard)::

    7E 7E | centre (1) | station (5) | password (2) | function (1) | flag+length (2)
          | STX 02  (or SYN 16 + packet total/sequence, 3 bytes)
          | body (length bytes) | ETX 03 / ETB 17 (up) or ENQ/EOT/ESC/ACK/NAK (down) | CRC (2)

ASCII mode (Tables 16 to 19) has the same fields written as characters, each byte of the HEX/BCD
header as two hex characters::

    SOH 01 | centre (2) | station (10) | password (4) | function (2) | flag+length (4: "0" up or
           "8" down, then 3 hex digits) | STX 02 (or SYN 16 + packet total and sequence, 3 hex
           characters each) | body (length characters) | end character | CRC (4 hex characters)

A down frame (centre to station) gives the station address before the centre address. The
length counts the bytes (characters) between the start-of-text and the end character. The CRC
is CRC-16/MODBUS (polynomial X^16+X^15+X^2+1, reflected 0xA001, initial 0xFFFF) over every byte
before it, sent high byte first (in ASCII mode as 4 hex characters).

Multi-packet messages (SYN, mode M3): the bodies of packets 1 to *total*, in sequence order,
joined, are one body; only packet 1 carries the serial number, send time, station and
observation time. :func:`~shuian.protocols.sl651.decode_frame` keeps a packet's body undecoded
(``packets``, ``body``); :func:`~shuian.protocols.sl651.decode_body` decodes the joined body.
Sources: the station side of yu-xiaoyao/sl651-2014-server (netty-client M3PacketSplitter.java:
header in packet 1 only, ETB then ETX) and its centre (SL651TcpInboundHandler.java,
M3Message.getM3Body); a station's firmware in the public code index (camera.c,
"只有第一包需要正文信息"); the packets of a picture published in
blog.csdn.net/doom66151/article/details/147009230 (packet 43 of 43 starts with picture bytes)
and the Fujian picture frame of :mod:`~shuian.protocols.sl651.hexmode` (packet 1 of 4).

Examples
--------
>>> hex(crc16(b"123456789"))
'0x4b37'
>>> cut_frames(bytearray(b"noise" + bytes.fromhex("7E7E0100123456781234" "2F0008" "02" "0001")))
([], b'noise')
"""

from __future__ import annotations

import datetime as dt
import re
import string
from dataclasses import dataclass
from typing import Literal

from shuian.errors import Sl651Error
from shuian.protocols.sl651.elements import Element
from shuian.protocols.sl651.parameters import Parameter

__all__ = [
    "ACK",
    "ASCII_HEADER",
    "CONFIGURATION_FUNCTIONS",
    "CONTROL_CHARACTERS",
    "DOWN_ENDS",
    "ENQ",
    "EOT",
    "ESC",
    "ETB",
    "ETX",
    "FUNCTION_CODES",
    "HEADER",
    "NAK",
    "SOH",
    "STX",
    "SYN",
    "UP_ENDS",
    "Mode",
    "Sl651Frame",
    "Unparsed",
    "crc16",
    "cut_frames",
    "frame_size",
    "header_size",
]

#: The encoding of a frame: ``"hex"`` (HEX/BCD) or ``"ascii"``.
Mode = Literal["hex", "ascii"]

#: The start characters of a HEX/BCD-mode frame; an ASCII-mode frame starts with SOH.
START = b"\x7e\x7e"
SOH = 0x01
#: Start of text: one packet (STX), or a packet of a multi-packet message (SYN).
STX, SYN = 0x02, 0x16
#: End characters (Table 10): ETX last or only packet, ETB more to come (up); ENQ a query or
#: command, EOT close the link, ESC keep it open, ACK received, NAK send again (down).
ETX, ETB, ENQ, EOT, ACK, NAK, ESC = 0x03, 0x17, 0x05, 0x04, 0x06, 0x15, 0x1B
UP_ENDS = {ETX: "ETX", ETB: "ETB"}
DOWN_ENDS = {ENQ: "ENQ", EOT: "EOT", ESC: "ESC", ACK: "ACK", NAK: "NAK"}
HEADER = 13  # bytes before the start-of-text character, HEX/BCD mode
ASCII_HEADER = 23  # bytes before the start-of-text character, ASCII mode
#: Control characters of SL 651 (Table 10) by name, as an ASCII-mode frame given as text
#: writes them (``<SOH>``, ``<STX>`` ...).
CONTROL_CHARACTERS = {"SOH": SOH, "STX": STX, "ETX": ETX, "EOT": EOT, "ENQ": ENQ, "ACK": ACK,
                      "NAK": NAK, "SYN": SYN, "ETB": ETB, "ESC": ESC}
#: Function codes whose bodies are configuration, query or control, not reports (Annex B).
CONFIGURATION_FUNCTIONS = frozenset(range(0x40, 0x52))
#: Function codes whose time-step code starts a series: uniform-interval report, period data.
SERIES_FUNCTIONS = frozenset({0x31, 0x38})

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
    carries, laid out by the standard's parameter tables (:mod:`shuian.protocols.sl651.parameters`):
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
    raise bad_start(head)


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
        return ASCII_HEADER + 1 + hex_number(head, 20, 3, "length") + 1 + 4
    if head[:2] != START:
        raise bad_start(head)
    if len(head) < HEADER:
        raise Sl651Error(len(head), f"frame ends inside the header ({len(head)} bytes)")
    length = int.from_bytes(head[11:13], "big") & 0x0FFF
    return HEADER + 1 + length + 1 + 2


def bad_start(data: bytes) -> Sl651Error:
    """The error for ``data`` that starts with neither mode's start characters."""
    shown = data[:2].hex().upper() or "missing"
    if data[:1] == START[:1]:
        return Sl651Error(0, f"start characters {shown}, expected 7E7E (HEX/BCD mode)")
    return Sl651Error(0, f"start characters {shown}, expected 7E7E (HEX/BCD mode) or "
                         "01 SOH (ASCII mode)")


def check_marks(data: bytes, start_at: int, end_at: int, direction: str) -> int:
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


def hex_text(data: bytes, pos: int, count: int, what: str) -> str:
    """``count`` hex characters at ``pos`` (an ASCII-mode field), upper case; raises if not."""
    text = data[pos:pos + count].decode("latin-1")
    if len(text) < count or any(c not in string.hexdigits for c in text):
        raise Sl651Error(pos, f"{what} {text!r} is not {count} hex characters")
    return text.upper()


def hex_number(data: bytes, pos: int, count: int, what: str) -> int:
    """The number ``count`` hex characters at ``pos`` write (an ASCII-mode field)."""
    return int(hex_text(data, pos, count, what), 16)


def frame_time(digits: str, pos: int, coding: str = "") -> dt.datetime:
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


#: Where a frame may begin: 7E 7E (HEX/BCD mode) or SOH and a hex character (ASCII mode).
FRAME_START = re.compile(rb"\x7e\x7e|\x01[0-9A-Fa-f]")


def cut_frames(buffer: bytearray) -> tuple[list[bytes], bytes]:
    """Cut whole frames (either mode) from the front of ``buffer``; return them and stray bytes.

    Frames and stray bytes (those before a frame's start characters) are removed from the
    buffer; an incomplete frame stays in it, to be completed by the bytes that come next.
    """
    frames: list[bytes] = []
    garbage = bytearray()
    while buffer:
        found = FRAME_START.search(buffer)
        # Without a start, keep a last 7E or SOH: it may begin the next frame.
        start = found.start() if found else len(buffer) - (buffer[-1] in (0x7E, 0x01))
        garbage += buffer[:start]
        del buffer[:start]
        if found is None or len(buffer) < header_size(bytes(buffer[:1])):
            break
        try:
            size = frame_size(bytes(buffer[:header_size(bytes(buffer[:1]))]))
        except Sl651Error:  # an SOH that does not begin an ASCII header
            garbage += buffer[:1]
            del buffer[:1]
            continue
        if len(buffer) < size:
            break
        frames.append(bytes(buffer[:size]))
        del buffer[:size]
    return frames, bytes(garbage)

"""SL 651-2014 (水文监测数据通信规约) frames in HEX/BCD mode: decode, encode, acknowledge.

Pure functions: bytes in, :class:`Sl651Frame` out, and back. Nothing here opens a socket.

Layout of a frame (Tables 20 to 26 of the standard)::

    7E 7E | centre (1) | station (5) | password (2) | function (1) | flag+length (2)
          | STX 02  (or SYN 16 + packet total/sequence, 3 bytes)
          | body (length bytes) | ETX 03 / ETB 17 (up) or ENQ/EOT/ESC/ACK/NAK (down) | CRC (2)

A down frame (centre to station) gives the station address before the centre address. The CRC is
CRC-16/MODBUS (polynomial X^16+X^15+X^2+1, reflected 0xA001, initial 0xFFFF) over every byte
before it, sent high byte first.

The body of a report: serial number (2), send time (6, BCD YYMMDDhhmmss), ``F1 F1`` + station
address (5) + station class (1), ``F0 F0`` + observation time (5, BCD YYMMDDhhmm), then elements:
identifier, data-definition byte (top 5 bits: byte count, low 3 bits: decimal places), value
(Annex C). A new ``F0 F0`` starts a new group of elements observed at that time.

Examples
--------
>>> frame = decode_frame(bytes.fromhex(
...     "7E7E010012345678123430002B020003591011154947F1F1001234567848F0F0591011154920190000"
...     "052619000005392300000127381211150320FA"))
>>> frame.valid_crc, frame.function_name, [(e.id, e.value) for e in frame.elements]
(True, 'test', [('20', 0.5), ('26', 0.5), ('39', 0.127), ('38', 11.15)])
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Literal

from shuian.errors import Sl651Error

__all__ = [
    "ELEMENTS",
    "FUNCTION_CODES",
    "ElementInfo",
    "Element",
    "Sl651Error",
    "Sl651Frame",
    "acknowledgement",
    "crc16",
    "decode_frame",
    "element",
    "encode_frame",
    "frame_size",
]

START = b"\x7e\x7e"
STX, SYN = 0x02, 0x16
ETX, ETB, ENQ, EOT, ACK, NAK, ESC = 0x03, 0x17, 0x05, 0x04, 0x06, 0x15, 0x1B
UP_ENDS = {ETX: "ETX", ETB: "ETB"}
DOWN_ENDS = {ENQ: "ENQ", EOT: "EOT", ESC: "ESC", ACK: "ACK", NAK: "NAK"}
HEADER = 13  # bytes before the start-of-text character
OBSERVED = b"\xf0\xf0"
STATION = b"\xf1\xf1"

Kind = Literal["bcd", "hex", "rain5", "level5", "timestep"]

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
}
"""Function codes of Annex B; 40–51 are configuration and control, E0–FF user-defined."""


@dataclass(frozen=True)
class ElementInfo:
    """An element of Annex C: symbol, meaning, unit and usual size (bytes) and decimals."""

    symbol: str
    name: str
    unit: str
    size: int
    decimals: int
    kind: Kind = "bcd"


ELEMENTS: dict[str, ElementInfo] = {
    "02": ElementInfo("AI", "instantaneous air temperature", "°C", 2, 1),
    "03": ElementInfo("C", "instantaneous water temperature", "°C", 2, 1),
    "04": ElementInfo("DRxnn", "time-step code (DDhhmm)", "min", 3, 0, "timestep"),
    "06": ElementInfo("ED", "daily evaporation", "mm", 3, 1),
    "07": ElementInfo("EJ", "current evaporation", "mm", 3, 1),
    "08": ElementInfo("FL", "air pressure", "hPa", 3, 0),
    "09": ElementInfo("GH", "gate opening", "m", 3, 2),
    "1A": ElementInfo("P1", "1-hour rainfall", "mm", 3, 1),
    "1B": ElementInfo("P2", "2-hour rainfall", "mm", 3, 1),
    "1C": ElementInfo("P3", "3-hour rainfall", "mm", 3, 1),
    "1D": ElementInfo("P6", "6-hour rainfall", "mm", 3, 1),
    "1E": ElementInfo("P12", "12-hour rainfall", "mm", 3, 1),
    "1F": ElementInfo("PD", "daily rainfall", "mm", 3, 1),
    "20": ElementInfo("PJ", "current rainfall (since last report)", "mm", 3, 1),
    "21": ElementInfo("PN01", "1-minute rainfall", "mm", 3, 1),
    "22": ElementInfo("PN05", "5-minute rainfall", "mm", 3, 1),
    "23": ElementInfo("PN10", "10-minute rainfall", "mm", 3, 1),
    "24": ElementInfo("PN30", "30-minute rainfall", "mm", 3, 1),
    "25": ElementInfo("PR", "storm rainfall", "mm", 3, 1),
    "26": ElementInfo("PT", "accumulated rainfall", "mm", 3, 1),
    "27": ElementInfo("Q", "instantaneous flow", "m³/s", 5, 3),
    "30": ElementInfo("QA", "total outflow", "m³/s", 5, 3),
    "35": ElementInfo("US", "wind speed", "m/s", 2, 1),
    "36": ElementInfo("VA", "mean velocity of the section", "m/s", 3, 3),
    "37": ElementInfo("VJ", "instantaneous velocity", "m/s", 3, 3),
    "38": ElementInfo("VT", "supply voltage", "V", 2, 2),
    "39": ElementInfo("Z", "instantaneous river level", "m", 4, 3),
    "3A": ElementInfo("ZB", "reservoir downstream level", "m", 4, 3),
    "3B": ElementInfo("ZU", "reservoir upstream level", "m", 4, 3),
    "45": ElementInfo("ZT", "status and alarm word", "", 4, 0, "hex"),
    "F4": ElementInfo("DRP", "5-minute rainfall of the hour (12 values)", "mm", 12, 0, "rain5"),
    **{
        f"{0xF5 + i:02X}": ElementInfo(
            f"DRZ{i + 1}", f"5-minute relative water level {i + 1} of the hour (12 values)",
            "m", 24, 0, "level5",
        )
        for i in range(8)
    },
}
"""Elements of Annex C known to this decoder, by identifier (two hex digits)."""


@dataclass(frozen=True)
class Element:
    """One decoded element.

    ``value`` is None when the station sent "missing" (all F), when the element is an array
    (``values`` then holds its twelve 5-minute values, None where invalid) or when the bytes are
    not a number. ``observed_time`` is None when the element belongs to the frame's
    ``observed_time``; ``raw`` (hex of the value bytes, ignored in comparisons) is re-sent as is
    by :func:`encode_frame` when given.
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
    raw: str = field(default="", compare=False)


@dataclass(frozen=True)
class Sl651Frame:
    """A decoded (or to be encoded) frame; the CRC fields are set by :func:`decode_frame`.

    ``station`` is the address as 10 hex digits; ``password`` 4 hex digits; ``station_class``
    the letter after ``F1 F1`` (``H`` river, ``K`` reservoir, ``P`` rainfall, ...). Frames of a
    multi-packet message (SYN) keep their body undecoded in ``body``, with ``packets`` = (total,
    sequence).
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
    valid_crc: bool = True
    crc_expected: int = 0
    crc_found: int = 0

    @property
    def function_name(self) -> str:
        """Name of the function code (Annex B)."""
        code = self.function_code
        if code in FUNCTION_CODES:
            return FUNCTION_CODES[code]
        if 0x40 <= code <= 0x51:
            return "configuration or control"
        if code >= 0xE0:
            return "user-defined"
        return "unknown"


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
) -> Element:
    """An element to encode; size and decimals default to the usual ones of Annex C.

    Examples
    --------
    >>> element("39", 0.127).size, element("39", 0.127).decimals
    (4, 3)
    """
    ident = id.upper()
    info = ELEMENTS.get(ident)
    if info is None:
        if decimals is None or size is None:
            raise ValueError(f"element {ident} is not in Annex C: give decimals= and size=")
        return Element(ident, f"element {ident}", value, "", False, decimals, size,
                       values=values, observed_time=observed_time)
    return Element(
        ident, info.name, value, info.unit, True,
        info.decimals if decimals is None else decimals, info.size if size is None else size,
        symbol=info.symbol, values=values, observed_time=observed_time,
    )


# --- decoding -------------------------------------------------------------------------------


def frame_size(head: bytes) -> int:
    """The size in bytes of the whole frame whose first :data:`HEADER` bytes are ``head``.

    For cutting frames out of a byte stream: read ``HEADER`` bytes, then the rest.

    Raises
    ------
    Sl651Error
        ``head`` does not start with the start characters or is shorter than the header.
    """
    if head[:2] != START:
        raise Sl651Error(0, f"start characters {head[:2].hex().upper() or 'missing'}, "
                            "expected 7E7E (HEX/BCD mode)")
    if len(head) < HEADER:
        raise Sl651Error(len(head), f"frame ends inside the header ({len(head)} bytes)")
    length = int.from_bytes(head[11:13], "big") & 0x0FFF
    return HEADER + 1 + length + 1 + 2


def decode_frame(data: bytes) -> Sl651Frame:
    """Decode one HEX/BCD frame (Tables 20 to 26 and Annex C of SL 651-2014).

    Parameters
    ----------
    data
        The whole frame, from ``7E 7E`` to the CRC.

    Returns
    -------
    Sl651Frame
        A CRC that does not match is not an error: ``valid_crc`` is False and ``crc_expected``
        (computed) and ``crc_found`` (sent) both say what they are.

    Raises
    ------
    Sl651Error
        Bad start characters, a frame shorter or longer than its length field says, an unknown
        start-of-text or end character, a truncated element or time; the message names the
        byte offset.
    """
    if data[:2] != START:
        raise Sl651Error(0, f"start characters {data[:2].hex().upper() or 'missing'}, "
                            "expected 7E7E (HEX/BCD mode)")
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
    if start not in (STX, SYN):
        raise Sl651Error(HEADER, f"start-of-text character {start:02X}, expected 02 or 16")
    end = data[end_at]
    ends = UP_ENDS if direction == "up" else DOWN_ENDS
    if end not in ends:
        names = ", ".join(f"{c:02X} {n}" for c, n in ends.items())
        raise Sl651Error(end_at, f"end character {end:02X} is not one of an {direction} frame "
                                 f"({names})")
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


def _decode_body(data: bytes, pos: int, stop: int, head: Sl651Frame) -> Sl651Frame:
    _need(data, pos, 8, stop, "serial number and send time")
    serial = int.from_bytes(data[pos:pos + 2], "big")
    send_time = _bcd_time(data, pos + 2, 6)
    pos += 8
    station_class: str | None = None
    first_observed: dt.datetime | None = None
    observed: dt.datetime | None = None
    elements: list[Element] = []
    while pos < stop:
        if data[pos:pos + 2] == STATION:
            _need(data, pos, 8, stop, "station address element (F1F1)")
            station_class = chr(data[pos + 7])
            pos += 8
        elif data[pos:pos + 2] == OBSERVED:
            _need(data, pos, 7, stop, "observation time element (F0F0)")
            observed = _bcd_time(data, pos + 2, 5)
            if first_observed is None:
                first_observed = observed
            pos += 7
        else:
            item, pos = _decode_element(data, pos, stop)
            if observed != first_observed:
                item = replace(item, observed_time=observed)
            elements.append(item)
    return replace(
        head, serial=serial, send_time=send_time, station_class=station_class,
        observed_time=first_observed, elements=tuple(elements),
    )


def _need(data: bytes, pos: int, count: int, stop: int, what: str) -> None:
    if pos + count > stop:
        raise Sl651Error(pos, f"{what} truncated: needs {count} bytes, the body has "
                              f"{max(stop - pos, 0)} left")


def _bcd_time(data: bytes, pos: int, count: int) -> dt.datetime:
    digits = data[pos:pos + count].hex()
    parts = [int(digits[i:i + 2]) if digits[i:i + 2].isdigit() else -1
             for i in range(0, len(digits), 2)]
    try:
        if min(parts) < 0:
            raise ValueError("not BCD")
        seconds = parts[5] if count == 6 else 0
        return dt.datetime(2000 + parts[0], parts[1], parts[2], parts[3], parts[4], seconds)
    except ValueError as exc:
        layout = "YYMMDDhhmmss" if count == 6 else "YYMMDDhhmm"
        raise Sl651Error(pos, f"time {digits.upper()} is not a BCD {layout} ({exc})") from None


def _decode_element(data: bytes, pos: int, stop: int) -> tuple[Element, int]:
    at = pos
    ident = f"{data[pos]:02X}"
    pos += 1
    if ident == "FF":  # two-byte user code FF xx
        _need(data, at, 3, stop, f"user element FF at offset {at}")
        ident += f"{data[pos]:02X}"
        pos += 1
    _need(data, at, pos - at + 1, stop, f"element {ident}: data-definition byte")
    size, decimals = data[pos] >> 3, data[pos] & 0x07
    pos += 1
    if pos + size > stop:
        raise Sl651Error(at, f"element {ident} truncated: its data-definition byte "
                             f"{data[pos - 1]:02X} says {size} bytes, the body has "
                             f"{stop - pos} left")
    raw = data[pos:pos + size]
    info = ELEMENTS.get(ident)
    kind: Kind = info.kind if info is not None else "bcd"
    value, values = _value(raw, decimals, kind)
    if info is None:
        if value is None and raw and raw != b"\xff" * size:
            value = int.from_bytes(raw, "big") / 10**decimals  # vendor HEX value
        item = Element(ident, f"element {ident}", value, "", False, decimals, size,
                       raw=raw.hex().upper())
    else:
        item = Element(ident, info.name, value, info.unit, True, decimals, size,
                       symbol=info.symbol, values=values, raw=raw.hex().upper())
    return item, pos + size


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


# --- encoding -------------------------------------------------------------------------------


def encode_frame(frame: Sl651Frame) -> bytes:
    """The bytes of ``frame``, with its CRC computed (the frame's CRC fields are ignored).

    Elements are grouped under one ``F0 F0`` observation time each (an element's own
    ``observed_time``, else the frame's); an element's ``raw`` bytes are sent when given.

    Raises
    ------
    ValueError
        A value that does not fit its size and decimals, or a malformed address or password.
    """
    if frame.packets is not None:
        total, sequence = frame.packets
        body = (total << 12 | sequence).to_bytes(3, "big") + frame.body
        start = SYN
    else:
        body = _encode_body(frame)
        start = STX
    if len(body) > 0x0FFF:
        raise ValueError(f"body of {len(body)} bytes: at most 4095 fit the length field")
    station = bytes.fromhex(frame.station)
    if len(station) != 5:
        raise ValueError(f"station {frame.station!r}: 10 hex digits expected")
    centre = bytes([frame.center])
    addresses = centre + station if frame.direction == "up" else station + centre
    flag = 0x0000 if frame.direction == "up" else 0x8000
    head = (START + addresses + bytes.fromhex(frame.password) + bytes([frame.function_code])
            + (flag | len(body)).to_bytes(2, "big") + bytes([start]))
    unsigned = head + body + bytes([frame.end])
    return unsigned + crc16(unsigned).to_bytes(2, "big")


def _encode_body(frame: Sl651Frame) -> bytes:
    if frame.serial is None or frame.send_time is None:
        raise ValueError("a single-packet frame needs serial and send_time")
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
        out += _encode_element(item)
    if not frame.elements and frame.observed_time is not None:
        out += OBSERVED + bytes.fromhex(frame.observed_time.strftime("%y%m%d%H%M"))
    return bytes(out)


def _encode_element(item: Element) -> bytes:
    if not 0 <= item.size <= 31 or not 0 <= item.decimals <= 7:
        raise ValueError(f"element {item.id}: size 0..31 and decimals 0..7")
    head = bytes.fromhex(item.id) + bytes([item.size << 3 | item.decimals])
    if item.raw:
        return head + bytes.fromhex(item.raw)
    info = ELEMENTS.get(item.id)
    kind: Kind = info.kind if info is not None and item.standard else "bcd"
    if kind == "rain5":
        return head + bytes(0xFF if v is None else round(v * 10) for v in item.values)
    if kind == "level5":
        return head + b"".join(
            (0xFFFF if v is None else round(v * 100)).to_bytes(2, "big") for v in item.values
        )
    if item.value is None:
        return head + b"\xff" * item.size
    if kind == "hex":
        scaled: int = round(item.value * 10**item.decimals)
        return head + scaled.to_bytes(item.size, "big")
    if kind == "timestep":
        days, rest = divmod(round(item.value), 1440)
        return head + bytes.fromhex(f"{days:02d}{rest // 60:02d}{rest % 60:02d}")
    negative = item.value < 0
    width = 2 * (item.size - 1 if negative else item.size)
    digits = f"{round(abs(item.value) * 10**item.decimals):0{width}d}"
    if len(digits) > width:
        raise ValueError(f"element {item.id}: {item.value} does not fit {item.size} bytes "
                         f"with {item.decimals} decimals")
    return head + (b"\xff" if negative else b"") + bytes.fromhex(digits)


def acknowledgement(
    frame: Sl651Frame, *, send_time: dt.datetime | None = None, keep_open: bool = False
) -> bytes:
    """The down frame the centre sends after an up frame (transmission modes M2 and M4).

    Same centre, station, password and function code; flag 8 (down); body = the serial number
    of the frame answered and the centre's send time; end character EOT 04 (close the link) or,
    with ``keep_open``, ESC 1B (keep it open 10 minutes).

    Parameters
    ----------
    frame
        The up frame being answered.
    send_time
        The centre's clock; by default the station's send time is repeated, which keeps this
        function pure.
    keep_open
        End with ESC rather than EOT.
    """
    if frame.direction != "up" or frame.serial is None or frame.send_time is None:
        raise ValueError("only a single-packet up frame with a serial and send time is "
                         "acknowledged this way")
    answer = Sl651Frame(
        center=frame.center, station=frame.station, password=frame.password,
        function_code=frame.function_code, serial=frame.serial,
        send_time=send_time or frame.send_time, direction="down",
        end=ESC if keep_open else EOT,
    )
    return encode_frame(answer)

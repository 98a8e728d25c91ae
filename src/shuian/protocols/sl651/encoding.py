"""Building SL 651-2014 frames to send: any frame, and the centre's acknowledgement.

What the tests, the benchmarks and ``shuian sl651 send`` use to speak as a station, and what the
centre (:mod:`shuian.sources.sl651`) answers with. Pure functions: a frame in, bytes out.

Examples
--------
A test report, encoded in HEX/BCD mode and again in ASCII mode:

>>> import datetime as dt
>>> from shuian.protocols.sl651 import element
>>> frame = Sl651Frame(center=1, station="0012345678", password="1234", function_code=0x30,
...                    serial=3, send_time=dt.datetime(2059, 10, 11, 15, 49, 47),
...                    station_class="H", observed_time=dt.datetime(2059, 10, 11, 15, 49),
...                    elements=(element("39", 0.127), element("38", 11.15)))
>>> encode_frame(frame).hex().upper()[:26]
'7E7E0100123456781234300021'
>>> encode_frame(frame, mode="ascii")[24:-5].decode()
'0003591011154947ST 0012345678 H TT 5910111549 Z 0.127 VT 11.15 '
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import replace

from shuian.protocols.sl651.ascii import encode_ascii_body
from shuian.protocols.sl651.elements import kind_of, time_step
from shuian.protocols.sl651.frames import (
    EOT,
    ESC,
    NAK,
    SERIES_FUNCTIONS,
    SOH,
    START,
    STX,
    SYN,
    Mode,
    Sl651Frame,
    crc16,
)
from shuian.protocols.sl651.hexmode import encode_hex_body

__all__ = ["acknowledgement", "encode_frame"]


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
        _check_series(frame, hex_mode=not ascii_mode)
        body = encode_ascii_body(frame, use_raw) if ascii_mode else encode_hex_body(frame, use_raw)
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
        kind = kind_of(item)
        if kind == "timestep":
            step = time_step(item) if takes_series else None
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

    >>> from shuian.protocols.sl651 import decode_frame
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
        body = (encode_ascii_body if answer.mode == "ascii" else encode_hex_body)(answer, False)
        answer = replace(answer, packets=packets, body=body)
    return encode_frame(answer)

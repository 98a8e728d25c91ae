"""SL 651-2014 HEX/BCD mode: the body of a frame, decoded and encoded.

Pure functions: no I/O. :func:`~shuian.protocols.sl651.decode_frame` and
:func:`~shuian.protocols.sl651.encode_frame` call these for a frame that starts ``7E 7E``; the
header, CRC and control characters are in :mod:`~shuian.protocols.sl651.frames`.

The body of a report: serial number (2), send time (6, BCD YYMMDDhhmmss), ``F1 F1`` + station
address (5) + station class (1), ``F0 F0`` + observation time (5, BCD YYMMDDhhmm), then elements:
identifier, data-definition byte (top 5 bits: byte count, low 3 bits: decimal places), value
(Annex C, :mod:`~shuian.protocols.sl651.elements`). A new ``F0 F0`` starts a new group of
elements observed at that time. Some stations send ``F1 28`` and ``F0 28`` (data-definition byte
28: 5 bytes) instead of ``F1 F1`` and ``F0 F0``; both are read (gaoming2222/Protocol_WH-master's
published frame, below), and the standard's form is written.

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

A picture (36) is the element ``F3 F3`` followed by the picture's bytes to the end of the body
(``picture``). A manual entry (35H, ``F2 F2``) keeps its text in ``manual_entry``.

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
tables say (:mod:`~shuian.protocols.sl651.parameters`), decoded into ``parameters``, never into
``elements``.
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import replace
from typing import Literal

from shuian.errors import Sl651Error
from shuian.protocols.sl651.elements import (
    ELEMENTS,
    Element,
    Kind,
    is_bcd,
    kind_of,
    time_step,
    value_of,
)
from shuian.protocols.sl651.frames import (
    CONFIGURATION_FUNCTIONS,
    FUNCTION_CODES,
    HEADER,
    SERIES_FUNCTIONS,
    START,
    SYN,
    Sl651Frame,
    Unparsed,
    bad_start,
    check_marks,
    crc16,
    frame_time,
)
from shuian.protocols.sl651.parameters import Parameter, parameter, parameter_table

#: The entry points are :func:`~shuian.protocols.sl651.decode_frame` and
#: :func:`~shuian.protocols.sl651.encode_frame`; this module's functions serve them.
__all__: list[str] = []

#: The markers of the standard's own blocks: observation time, station, manual entry, picture.
OBSERVED = b"\xf0\xf0"
STATION = b"\xf1\xf1"
PICTURE = b"\xf3\xf3"
MANUAL = b"\xf2\xf2"
#: Data-definition byte some stations send after ``F0``/``F1`` instead of repeating it (5 bytes,
#: no decimals): gaoming2222/Protocol_WH-master's published uniform-interval frame.
FIVE_BYTES = 0x28


def decode_hex(data: bytes) -> Sl651Frame:
    """Decode a HEX/BCD-mode frame (``7E 7E``), as :func:`~shuian.protocols.sl651.decode_frame`."""
    if data[:2] != START:
        raise bad_start(data)
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
    end = check_marks(data, HEADER, end_at, direction)
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
    return decode_hex_body(data, pos, end_at, head)


def decode_hex_body(data: bytes, pos: int, stop: int, head: Sl651Frame) -> Sl651Frame:
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
                    step = time_step(item)
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
        return end if info.kind != "timestep" or is_bcd(raw) else None
    if info.kind == "hex":
        return end if size == info.size else None
    if size > info.size + 1 or decimals > 2 * size:
        return None
    return end if is_bcd(raw) else None


def _decode_config(data: bytes, pos: int, stop: int, head: Sl651Frame) -> Sl651Frame:
    """The body of a configuration, query or control frame after its send time.

    ``F1 F1`` and the station address (no station class), then per function (see
    :mod:`~shuian.protocols.sl651.parameters` for the layouts and their sources): parameters
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


def _need(data: bytes, pos: int, count: int, stop: int, what: str) -> None:
    if pos + count > stop:
        raise Sl651Error(pos, f"{what} truncated: needs {count} bytes, the body has "
                              f"{max(stop - pos, 0)} left")


def _bcd_time(data: bytes, pos: int, count: int) -> dt.datetime:
    return frame_time(data[pos:pos + count].hex().upper(), pos, "BCD ")


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
    if info is not None and kind == "bcd" and size and not is_bcd(raw):
        raise Sl651Error(at, f"element {ident} ({info.symbol}): value {raw.hex().upper()} is "
                             "not BCD, so the bytes before it were not laid out as sent")
    if (info is not None and kind == "timestep" and raw != b"\xff" * size
            and (size != info.size or not raw.hex().isdigit())):
        raise Sl651Error(at, f"element {ident} ({info.symbol}): value {raw.hex().upper()} "
                             f"(data-definition byte {data[pos - 1]:02X}) is not a time-step "
                             f"code, {info.size} bytes of BCD DDhhmm")
    value, values = value_of(raw, decimals, kind)
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
        value, _ = value_of(raw, decimals, kind)
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


def encode_hex_body(frame: Sl651Frame, use_raw: bool) -> bytes:
    """The body of a single-packet frame in HEX/BCD mode (``use_raw``: send elements' ``raw``)."""
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
        out += _encode_element(item, use_raw)
    if not frame.elements and frame.observed_time is not None:
        out += OBSERVED + bytes.fromhex(frame.observed_time.strftime("%y%m%d%H%M"))
    if frame.picture is not None:
        out += PICTURE + frame.picture
    return bytes(out)


def _encode_element(item: Element, use_raw: bool) -> bytes:
    if not 0 <= item.size <= 31 or not 0 <= item.decimals <= 7:
        raise ValueError(f"element {item.id}: size 0..31 and decimals 0..7")
    if len(item.id) not in (2, 4) or any(c not in string.hexdigits for c in item.id):
        raise ValueError(f"element {item.id}: not a HEX/BCD identifier (an ASCII symbol outside "
                         "Annex C cannot be sent in HEX/BCD mode)")
    head = bytes.fromhex(item.id) + bytes([item.size << 3 | item.decimals])
    if item.raw and use_raw:
        return head + bytes.fromhex(item.raw)
    kind = kind_of(item)
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

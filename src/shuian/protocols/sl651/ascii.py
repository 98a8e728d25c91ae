"""SL 651-2014 ASCII mode: the body of a frame, decoded and encoded.

Pure functions: no I/O. :func:`~shuian.protocols.sl651.decode_frame` and
:func:`~shuian.protocols.sl651.encode_frame` call these for a frame that starts ``SOH 01``; the
header (:mod:`~shuian.protocols.sl651.frames`) is the HEX/BCD header written as hex characters.

The CRC is over every byte from SOH to the end character included. The body is the serial
number (4 hex characters) and the send time (12 digits), with no separator, then groups
separated by single spaces, the last one followed by a space too: ``ST`` station address and
class, ``TT`` observation time (10 digits), and elements as their Annex C symbol and the value in
decimal text (``PJ 0.5 Z 0.301 VT 10.91 ``). The time-step code is the symbol itself, ``DRxnn``
(``x`` = ``D`` days, ``H`` hours or ``N`` minutes, ``nn`` = how many), with no value; the values
of a uniform-interval series (:mod:`~shuian.protocols.sl651.hexmode`) run while the words are
numbers. A picture is ``PIC`` and its bytes as they are, then one space (as sl651_bridge reads
it: assumed).


Sources for ASCII mode, all of which agree with each other: two frames published with their CRC
in "SL651-2014全协议解析(ASCII编码格式)" (blog.csdn.net/weixin_42163707/article/details/132556389),
whose CRCs check with the rule above (byte for byte, see the tests); the ASCII codec of
yushun1990/sl651_bridge (protocol/src/frame.rs and body.rs, citing Tables 16 to 19 and 6.6.2) and
its golden frame. Not confirmed by any source read, so assumed here: the ASCII form of ``ZT`` (hex
characters, like its 4 HEX bytes), of ``DRP``/``DRZn`` (their 12 or 24 bytes as hex characters,
as sl651_bridge reads them) and of the multi-packet field (as sl651_bridge writes it); and how a
missing value is written (a value that is not a number is decoded as None and its text kept in
``raw``; :func:`~shuian.protocols.sl651.encode_frame` refuses to invent a marker for a missing
value in ASCII mode).
"""

from __future__ import annotations

import datetime as dt
import re
import string
from dataclasses import replace
from typing import Literal

from shuian.errors import Sl651Error
from shuian.protocols.sl651.elements import (
    ELEMENTS,
    SYMBOLS,
    Element,
    Kind,
    kind_of,
    time_step,
    value_of,
)
from shuian.protocols.sl651.frames import (
    ASCII_HEADER,
    SERIES_FUNCTIONS,
    SYN,
    Sl651Frame,
    check_marks,
    crc16,
    frame_time,
    hex_number,
    hex_text,
)

#: The entry points are :func:`~shuian.protocols.sl651.decode_frame` and
#: :func:`~shuian.protocols.sl651.encode_frame`; this module's functions serve them.
__all__: list[str] = []

#: The time-step code ``DRxnn``, and the minutes and most ``nn`` of each ``x``.
_STEP = re.compile(r"DR([DHN])(\d\d)")
_STEP_UNITS = {"D": (1440, 31), "H": (60, 23), "N": (1, 59)}
#: A value in decimal text: sign, whole part, decimals.
_NUMBER = re.compile(r"(-?)(\d+)(?:\.(\d+))?")


def decode_ascii(data: bytes) -> Sl651Frame:
    """Decode one ASCII-mode frame (``SOH``), as :func:`~shuian.protocols.sl651.decode_frame`."""
    if len(data) < ASCII_HEADER + 1:
        raise Sl651Error(len(data), f"frame ends inside the header ({len(data)} bytes, "
                                    f"the ASCII header is {ASCII_HEADER + 1})")
    flag = data[19:20].decode("latin-1")
    if flag not in ("0", "8"):
        raise Sl651Error(19, f"direction flag {flag!r}, expected '0' (up) or '8' (down)")
    direction: Literal["up", "down"] = "up" if flag == "0" else "down"
    center_at, station_at = (1, 3) if direction == "up" else (11, 1)
    center = hex_number(data, center_at, 2, "centre address")
    station = hex_text(data, station_at, 10, "station address")
    password = hex_text(data, 13, 4, "password")
    function = hex_number(data, 17, 2, "function code")
    length = hex_number(data, 20, 3, "length")
    expected_len = ASCII_HEADER + 1 + length + 1 + 4
    if len(data) != expected_len:
        raise Sl651Error(19, f"length field says {length} body characters, so {expected_len} "
                             f"bytes in all, but the frame has {len(data)}")
    start, end_at = data[ASCII_HEADER], ASCII_HEADER + 1 + length
    end = check_marks(data, ASCII_HEADER, end_at, direction)
    crc_found = hex_number(data, len(data) - 4, 4, "CRC")
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
        packets = (hex_number(data, pos, 3, "packet total"),
                   hex_number(data, pos + 3, 3, "packet sequence"))
        return replace(head, packets=packets, body=data[pos + 6:end_at])
    return decode_ascii_body(data, pos, end_at, head)


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


def decode_ascii_body(data: bytes, pos: int, stop: int, head: Sl651Frame) -> Sl651Frame:
    """A report's body in ASCII mode, from ``pos`` to ``stop``, into ``head``."""
    if pos + 16 > stop:
        raise Sl651Error(pos, f"serial number and send time truncated: needs 16 characters, "
                              f"the body has {stop - pos}")
    serial = hex_number(data, pos, 4, "serial number")
    send_time = frame_time(data[pos + 4:pos + 16].decode("latin-1"), pos + 4)
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
                observed = frame_time(words[i + 1][1], words[i + 1][0])
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
            step = time_step(item)
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
    ident = SYMBOLS.get(symbol.upper())
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
            _, values = value_of(raw, 0, info.kind)
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
    if SYMBOLS.get(nxt.upper()) is not None or _STEP.fullmatch(nxt) or nxt in ("TT", "ST"):
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


def encode_ascii_body(frame: Sl651Frame, use_raw: bool) -> bytes:
    """The body of a single-packet frame in ASCII mode (``use_raw``: send elements' ``raw``)."""
    if frame.serial is None or frame.send_time is None:
        raise ValueError("a single-packet frame needs serial and send_time")
    if not 0 <= frame.serial <= 0xFFFF:
        raise ValueError(f"serial {frame.serial}: 0 to 65535")
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
    kind = kind_of(item)
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

"""Readers of data files: long CSV and Campbell TOA5, streamed as blocks of :class:`RawRows`.

Long CSV
    A header line, then one reading per line: ``channel,time,value`` (engineering values) or
    ``channel,time,raw[,temperature]`` (raw readings, converted with the channel's calibration).
TOA5
    Campbell Scientific logger files; the site file's ``loggers`` map the logger's columns
    (station and table from the file's first line) to channels.

Encodings
    UTF-8, GBK or GB18030 (:data:`ENCODINGS`; GBK is common on Chinese station PCs). Unless one
    is given, :func:`detect_encoding` chooses: UTF-8 for a file with a UTF-8 byte-order mark or
    that is UTF-8 throughout, GB18030 (a superset of GBK) for one that is not UTF-8 but is
    GB18030 throughout, else UTF-8. A data line that is not text in the encoding is refused on
    its own (see :mod:`shuian.ingest.rows`); header lines must be.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from shuian.errors import InputFileError, InvalidRequestError
from shuian.i18n import Message
from shuian.ingest import rows as _rows
from shuian.ingest.rows import (
    MAX_CHANNEL_TEXT,
    MAX_LINE_BYTES,
    LineBlock,
    RawRows,
    ValueKind,
    iter_line_blocks,
    parse_block,
)
from shuian.ingest.toa5 import Toa5Header, is_toa5, parse_toa5_header
from shuian.site import Logger, Site

LONG_CSV_LAYOUTS: dict[frozenset[str], ValueKind] = {
    frozenset({"channel", "time", "value"}): "value",
    frozenset({"channel", "time", "raw"}): "raw",
    frozenset({"channel", "time", "raw", "temperature"}): "raw",
}

Progress = Callable[[int], None]

#: Encodings a file may be in (Python codec names). In each, a line end, a comma and a quote
#: are the ASCII bytes and never part of another character, so lines split alike in all.
ENCODINGS = ("utf-8", "gbk", "gb18030")
#: Other names taken for them (GB2312 is a subset of GBK; a UTF-8 mark is skipped anyway).
_ALIASES = {"gb2312": "gbk", "utf-8-sig": "utf-8"}
_BOM = codecs.BOM_UTF8


@dataclass(frozen=True)
class Encoding:
    """The encoding a file is read in (a codec of :data:`ENCODINGS`).

    ``note`` says how it was chosen when that is worth saying (not plain UTF-8), else None.
    """

    name: str
    note: str | None = None


def check_encoding(name: str) -> str:
    """The codec of :data:`ENCODINGS` that ``name`` names (any case or Python alias).

    Raises
    ------
    InvalidRequestError
        ``name`` is not one of them.
    """
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        codec = name
    codec = _ALIASES.get(codec, codec)
    if codec not in ENCODINGS:
        raise InvalidRequestError(
            f"--encoding {name!r}: files are read as {', '.join(ENCODINGS)} "
            "(leave it out to detect UTF-8 or GB18030)"
        )
    return codec


def detect_encoding(path: Path) -> Encoding:
    """Choose the encoding of a file: UTF-8 unless the whole file is GB18030 and not UTF-8.

    Reads the file once more (in blocks; twice when it is not UTF-8), which costs little beside
    parsing it.

    Raises
    ------
    InputFileError
        The file cannot be opened or read.
    """
    try:
        with path.open("rb") as stream:
            if stream.read(len(_BOM)) == _BOM:
                return Encoding("utf-8")
            stream.seek(0)
            if _decodes(stream, "utf-8"):
                return Encoding("utf-8")
            stream.seek(0)
            if _decodes(stream, "gb18030"):
                return Encoding("gb18030", "read as GB18030: not UTF-8, GB18030 throughout")
    except OSError as exc:
        raise InputFileError(f"{path}: cannot open the file: {exc.strerror}") from exc
    return Encoding("utf-8", "read as UTF-8, though not UTF-8 (nor GB18030) throughout: the "
                             "lines that are not are rejected; --encoding gives the encoding")


def _decodes(stream: BinaryIO, codec: str) -> bool:
    decoder = codecs.getincrementaldecoder(codec)()
    try:
        while chunk := stream.read(_rows.BLOCK_BYTES):
            if not (chunk.isascii() and not decoder.getstate()[0]):  # ASCII is text in all
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def read_file(
    path: Path,
    site: Site,
    *,
    encoding: str | None = None,
    on_progress: Progress | None = None,
) -> Iterator[RawRows]:
    """Stream a data file as blocks of rows; the format is recognised from its first line.

    ``encoding``: a name of :data:`ENCODINGS` (None: :func:`detect_encoding` chooses). A
    UTF-8 byte-order mark at the start is skipped.

    Raises
    ------
    InputFileError
        The file cannot be opened, or its header is not a long-CSV or TOA5 header (or not text
        in the encoding).
    InvalidRequestError
        ``encoding`` is not one of :data:`ENCODINGS`.
    """
    source = str(path)
    codec = detect_encoding(path).name if encoding is None else check_encoding(encoding)
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise InputFileError(f"{source}: cannot open the file: {exc.strerror}") from exc
    with stream:
        if stream.read(len(_BOM)) != _BOM:
            stream.seek(0)
        first = _header_line(stream, codec, f"{source}, line 1") or ""
        if on_progress is not None:
            on_progress(stream.tell())
        if not first.strip():
            raise InputFileError(
                f"{source}, line 1: the file is empty or starts with a blank line; expected a "
                "long-CSV header (channel,time,value) or a TOA5 header"
            )
        if is_toa5(first) or first.lstrip('"').startswith("TOA"):
            yield from _read_toa5(stream, first, site, source, codec, on_progress)
        else:
            yield from _read_long_csv(stream, first, source, codec, on_progress)


def _header_line(stream: BinaryIO, codec: str, where: str) -> str | None:
    """The next line of ``stream`` as text without its line end (None at the end of the file).

    Raises InputFileError, naming ``where`` (the file and line), for a line too long or that is
    not text in ``codec``.
    """
    line = stream.readline(MAX_LINE_BYTES + 2)
    if not line:
        return None
    if len(line.rstrip(b"\r\n")) > MAX_LINE_BYTES:
        raise InputFileError(f"{where}: the header line is longer than {MAX_LINE_BYTES:,} bytes "
                             "(not a data file?)")
    try:
        return line.decode(codec).rstrip("\r\n")
    except UnicodeDecodeError as exc:
        other = "gbk" if codec == "utf-8" else "utf-8"
        raise InputFileError(
            f"{where}: the header line is not {codec.upper()} text (byte {exc.start + 1} is "
            f"{line[exc.start]:#04x}); give the file's encoding, e.g. --encoding {other}"
        ) from None


def _read_long_csv(
    stream: BinaryIO, header: str, source: str, codec: str, on_progress: Progress | None
) -> Iterator[RawRows]:
    names = [name.strip().lower() for name in header.split(",")]
    kind = LONG_CSV_LAYOUTS.get(frozenset(names))
    if kind is None or len(set(names)) != len(names):
        raise InputFileError(
            f"{source}, line 1: header {header!r} is not a long-CSV header; expected "
            "'channel,time,value' or 'channel,time,raw' (optionally ',temperature'), "
            "or a Campbell TOA5 file"
        )
    for block in iter_line_blocks(stream, first_line=2, encoding=codec, on_progress=on_progress):
        frame, lines, reasons = parse_block(block, names)
        channel = frame["channel"].str.strip()
        _refuse(reasons, frame["_extra"].notna(),
                Message.of("reject.extra_fields", columns=len(names)))
        _refuse(reasons, channel.str.len() > MAX_CHANNEL_TEXT,
                Message.of("reject.channel_too_long", most=MAX_CHANNEL_TEXT))
        yield RawRows(
            source=source,
            kind=kind,
            channel=channel.str.slice(0, MAX_CHANNEL_TEXT),
            time=frame["time"].str.strip(),
            value=frame[kind].str.strip(),
            line=lines,
            text=_texts(block, lines),
            temperature=frame["temperature"] if "temperature" in names else None,
            reasons=reasons if _any(reasons) else None,
        )


def _read_toa5(
    stream: BinaryIO,
    first: str,
    site: Site,
    source: str,
    codec: str,
    on_progress: Progress | None,
) -> Iterator[RawRows]:
    start = stream.tell()
    lines = [first]
    while len(lines) < 4:
        line = _header_line(stream, codec, f"{source}: line {len(lines) + 1}")
        if line is None:
            break
        lines.append(line)
    if on_progress is not None:
        on_progress(stream.tell() - start)
    header = parse_toa5_header(lines, source=source)
    logger = _logger_for(header, site, source)
    names = [column.name for column in header.columns]
    mapped = [name for name in names if name in logger.columns]
    codes = [logger.columns[m] for m in mapped]
    unnamed = [f"_unnamed{i}" for i in range(header.field_count - len(names))]
    if not mapped:
        raise InputFileError(
            f"{source}: none of the columns {names[1:]} is mapped to a channel in the site "
            f"file's logger {logger.station}/{logger.table}"
        )
    for block in iter_line_blocks(stream, first_line=5, encoding=codec, on_progress=on_progress):
        frame, row_lines, reasons = parse_block(block, names + unnamed)
        _refuse(reasons, _beyond_header(frame, unnamed).notna(),
                Message.of("reject.extra_fields", columns=len(names)))
        # A reading per mapped column of each good line; a refused line is one row, no channel.
        bad = ~pd.isna(reasons)
        good = frame[~bad]
        k, refused = len(mapped), int(bad.sum())
        none = [pd.Series([None] * refused, dtype="str")] if refused else []
        numbers = np.concatenate([np.tile(row_lines[~bad], k), row_lines[bad]])
        yield RawRows(
            source=source,
            kind="value",
            channel=pd.concat([pd.Series(np.repeat(codes, len(good)), dtype="str"), *none],
                              ignore_index=True),
            time=pd.concat([good[names[0]]] * k + none, ignore_index=True).str.strip(),
            value=pd.concat([good[m] for m in mapped] + none, ignore_index=True).str.strip(),
            line=numbers,
            text=_texts(block, numbers),
            timezone=logger.timezone,
            reasons=(np.concatenate([np.full(k * len(good), None, dtype=object), reasons[bad]])
                     if refused else None),
        )


def _logger_for(header: Toa5Header, site: Site, source: str) -> Logger:
    station, table = header.environment.station_name, header.environment.table_name
    for logger in site.loggers:
        if logger.station == station and logger.table == table:
            return logger
    known = ", ".join(f"{lg.station}/{lg.table}" for lg in site.loggers) or "none"
    raise InputFileError(
        f"{source}, line 1: no logger {station}/{table} in the site file (known: {known}); "
        "add it under 'loggers:' with its column-to-channel map"
    )


def _texts(block: LineBlock, lines: np.ndarray) -> Callable[[int], str]:
    text_of_line = block.texts()
    return lambda position: text_of_line(int(lines[position]) - block.first_line)


def _beyond_header(frame: pd.DataFrame, unnamed: list[str]) -> pd.Series:
    """The text of each row past the named columns, or NA where there is none.

    A file whose header lines end in empty fields has rows that end in the same empty fields;
    a value in one of them (or a field past them) has no column to go to.
    """
    beyond = frame[[*unnamed, "_extra"]]
    if beyond.isna().all(axis=None):
        return frame["_extra"]
    text = beyond.fillna("").agg(",".join, axis=1)
    return text.where(beyond.notna().any(axis=1))


def _refuse(reasons: NDArray[np.object_], mask: pd.Series, reason: Message) -> None:
    """Give the rows in ``mask`` that have no reason yet this one (the first reason wins)."""
    fresh = mask.fillna(False).to_numpy(dtype=bool) & pd.isna(reasons)
    reasons[fresh] = reason


def _any(reasons: NDArray[np.object_]) -> bool:
    return bool((~pd.isna(reasons)).any())

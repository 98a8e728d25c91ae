"""Readers of data files: long CSV and Campbell TOA5, streamed as blocks of :class:`RawRows`.

Long CSV
    A header line, then one reading per line: ``channel,time,value`` (engineering values) or
    ``channel,time,raw[,temperature]`` (raw readings, converted with the channel's calibration).
TOA5
    Campbell Scientific logger files; the site file's ``loggers`` map the logger's columns
    (station and table from the file's first line) to channels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from shuian.errors import InputFileError
from shuian.ingest.rows import LineBlock, RawRows, ValueKind, iter_line_blocks, parse_block
from shuian.ingest.toa5 import Toa5Header, is_toa5, parse_toa5_header
from shuian.site import Logger, Site

LONG_CSV_LAYOUTS: dict[frozenset[str], ValueKind] = {
    frozenset({"channel", "time", "value"}): "value",
    frozenset({"channel", "time", "raw"}): "raw",
    frozenset({"channel", "time", "raw", "temperature"}): "raw",
}

Progress = Callable[[int], None]


def read_file(
    path: Path, site: Site, *, on_progress: Progress | None = None
) -> Iterator[RawRows]:
    """Stream a data file as blocks of rows; the format is recognised from its first line.

    Raises
    ------
    InputFileError
        The file cannot be opened, or its header is not a long-CSV or TOA5 header.
    """
    source = str(path)
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise InputFileError(f"{source}: cannot open the file: {exc.strerror}") from exc
    with stream:
        first = _text(stream.readline()).lstrip("\ufeff")
        if on_progress is not None:
            on_progress(stream.tell())
        if not first.strip():
            raise InputFileError(
                f"{source}, line 1: the file is empty or starts with a blank line; expected a "
                "long-CSV header (channel,time,value) or a TOA5 header"
            )
        if is_toa5(first) or first.lstrip('"').startswith("TOA"):
            yield from _read_toa5(stream, first, site, source, on_progress)
        else:
            yield from _read_long_csv(stream, first, source, on_progress)


def _text(line: bytes) -> str:
    return line.decode("utf-8", errors="replace").rstrip("\r\n")


def _read_long_csv(
    stream: BinaryIO, header: str, source: str, on_progress: Progress | None
) -> Iterator[RawRows]:
    names = [name.strip().lower() for name in header.split(",")]
    kind = LONG_CSV_LAYOUTS.get(frozenset(names))
    if kind is None or len(set(names)) != len(names):
        raise InputFileError(
            f"{source}, line 1: header {header!r} is not a long-CSV header; expected "
            "'channel,time,value' or 'channel,time,raw' (optionally ',temperature'), "
            "or a Campbell TOA5 file"
        )
    for block in iter_line_blocks(stream, first_line=2, on_progress=on_progress):
        frame, lines = parse_block(block, names)
        rows = RawRows(
            source=source,
            kind=kind,
            channel=frame["channel"].str.strip(),
            time=frame["time"].str.strip(),
            value=frame[kind].str.strip(),
            line=lines,
            text=_texts(block, lines),
            temperature=frame["temperature"] if "temperature" in names else None,
        )
        yield _refuse_extra_fields(rows, frame, len(names))


def _read_toa5(
    stream: BinaryIO, first: str, site: Site, source: str, on_progress: Progress | None
) -> Iterator[RawRows]:
    lines = [first]
    while len(lines) < 4 and (line := stream.readline()):
        lines.append(_text(line))
    header = parse_toa5_header(lines, source=source)
    logger = _logger_for(header, site, source)
    names = [column.name for column in header.columns]
    mapped = [name for name in names if name in logger.columns]
    unnamed = [f"_unnamed{i}" for i in range(header.field_count - len(names))]
    if not mapped:
        raise InputFileError(
            f"{source}: none of the columns {names[1:]} is mapped to a channel in the site "
            f"file's logger {logger.station}/{logger.table}"
        )
    for block in iter_line_blocks(stream, first_line=5, on_progress=on_progress):
        frame, row_lines = parse_block(block, names + unnamed)
        k = len(mapped)
        rows = RawRows(
            source=source,
            kind="value",
            channel=pd.Series(np.repeat([logger.columns[m] for m in mapped], len(frame)),
                              dtype="str"),
            time=pd.concat([frame[names[0]]] * k, ignore_index=True).str.strip(),
            value=pd.concat([frame[m] for m in mapped], ignore_index=True).str.strip(),
            line=np.tile(row_lines, k),
            text=_texts(block, np.tile(row_lines, k)),
            timezone=logger.timezone,
        )
        extra = pd.concat([_beyond_header(frame, unnamed)] * k, ignore_index=True)
        yield _refuse_extra_fields(rows, pd.DataFrame({"_extra": extra}), len(names))


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


def _refuse_extra_fields(rows: RawRows, frame: pd.DataFrame, named: int) -> RawRows:
    """Mark rows with text past the header's ``named`` columns, so validation rejects them."""
    extra = frame["_extra"].notna().to_numpy()
    if extra.any():
        reasons = np.full(len(extra), None, dtype=object)
        reasons[extra] = f"the line has more fields than the header's {named} column(s)"
        rows.reasons = reasons
    return rows

"""Text rows on their way in: blocks of lines read from a file, parsed into string columns.

Every source (long CSV, TOA5, the HTTP API) produces :class:`RawRows`: string columns plus the
line number and text of each row, so that a rejected row is kept exactly as it arrived.
Files are read in blocks of whole lines (a few MB), so memory does not grow with file size.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

#: Bytes read per block; rows of a block are parsed and stored together.
BLOCK_BYTES = 4 * 1024 * 1024

ValueKind = Literal["value", "raw"]


@dataclass
class RawRows:
    """Rows of one block as strings, before validation.

    Attributes
    ----------
    source : where the rows come from (a file name, ``api``)
    kind : ``value`` when ``value`` holds engineering values, ``raw`` when raw readings
    channel, time, value : string columns (pandas ``str``; missing cells are NA)
    temperature : optional string column of temperatures (°C) for raw conversions
    line : 1-based line number of each row in its source (or the index in an API batch)
    text : returns the original text of the row at a position (for rejected rows)
    timezone : zone for times without an offset (None: the site's)
    reasons : reasons for refusal found while reading (None where none)
    """

    source: str
    kind: ValueKind
    channel: pd.Series
    time: pd.Series
    value: pd.Series
    line: NDArray[np.int64]
    text: Callable[[int], str]
    temperature: pd.Series | None = None
    timezone: str | None = None
    #: Reasons found while reading (None where the row is fine so far).
    reasons: NDArray[np.object_] | None = None

    def __len__(self) -> int:
        return len(self.line)


@dataclass(frozen=True)
class LineBlock:
    """Whole lines of a file: ``data`` holds lines ``first_line`` .. ``first_line + count - 1``."""

    data: bytes
    first_line: int
    count: int

    def line_text(self, index: int) -> str:
        """The text of the block's ``index``-th line (0-based), without its line end."""
        lines = self.data.split(b"\n")
        return lines[index].rstrip(b"\r").decode("utf-8", errors="replace")

    def texts(self) -> Callable[[int], str]:
        """A lookup of line texts that splits the block once, on first use."""
        cache: list[bytes] = []

        def text(index: int) -> str:
            if not cache:
                cache.extend(self.data.split(b"\n"))
            return cache[index].rstrip(b"\r").decode("utf-8", errors="replace")

        return text


def iter_line_blocks(
    stream: BinaryIO,
    *,
    first_line: int,
    block_bytes: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[LineBlock]:
    """Yield blocks of whole lines from ``stream``, numbering lines from ``first_line``.

    ``on_progress`` is called with the number of bytes consumed by each block;
    ``block_bytes`` defaults to the module's :data:`BLOCK_BYTES` at the time of the call.
    """
    block_bytes = block_bytes or BLOCK_BYTES
    carry = b""
    line = first_line
    while True:
        chunk = stream.read(block_bytes)
        if not chunk:
            break
        data = carry + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        block, carry = data[: cut + 1], data[cut + 1 :]
        count = block.count(b"\n")
        yield LineBlock(block[:-1], line, count)
        line += count
        if on_progress is not None:
            on_progress(len(block))
    if carry.strip():
        yield LineBlock(carry.rstrip(b"\n"), line, carry.count(b"\n") + 1)
    if on_progress is not None and carry:
        on_progress(len(carry))


def parse_block(block: LineBlock, names: list[str]) -> tuple[pd.DataFrame, NDArray[np.int64]]:
    """Parse a block of CSV lines into string columns ``names``.

    Returns the frame and the line number of each row. Blank lines are dropped; a line with
    more fields than ``names`` keeps its extra text in a column ``_extra`` (rejected later),
    so rows and lines never fall out of step.
    """
    try:
        with warnings.catch_warnings():
            # pandas warns, and drops data, when a line has more fields than names.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.BytesIO(block.data),
                header=None,
                names=[*names, "_extra"],  # one more field is caught here, more in the except
                index_col=False,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                skip_blank_lines=False,
                engine="c",
                quoting=csv.QUOTE_MINIMAL,
            )
    except (pd.errors.ParserError, pd.errors.ParserWarning):
        frame = _parse_block_slowly(block, names)
    lines = np.arange(block.first_line, block.first_line + len(frame), dtype=np.int64)
    if len(frame) != block.count:  # quoted line breaks: rows no longer map to lines
        frame = _parse_block_slowly(block, names)
        lines = np.arange(block.first_line, block.first_line + len(frame), dtype=np.int64)
    blank = frame[names].isna().all(axis=1).to_numpy()
    if blank.any():
        frame, lines = frame[~blank].reset_index(drop=True), lines[~blank]
    return frame, lines


def _parse_block_slowly(block: LineBlock, names: list[str]) -> pd.DataFrame:
    """Parse line by line: only for blocks with malformed lines (too many fields)."""
    rows: list[list[str | None]] = []
    for text in block.data.decode("utf-8", errors="replace").split("\n"):
        fields: list[str | None] = list(next(csv.reader([text.rstrip("\r")]), []))
        extra = ",".join(str(f) for f in fields[len(names) :]) if len(fields) > len(names) else None
        fields = [f if f != "" else None for f in fields[: len(names)]]
        rows.append(fields + [None] * (len(names) - len(fields)) + [extra])
    return pd.DataFrame(rows, columns=[*names, "_extra"], dtype="str")

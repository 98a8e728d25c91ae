"""Text rows on their way in: blocks of lines read from a file, parsed into string columns.

Every source (long CSV, TOA5, the HTTP API) produces :class:`RawRows`: string columns plus the
line number and text of each row, so that a rejected row is kept exactly as it arrived.
Files are read in blocks of whole lines (a few MB), so memory does not grow with file size.

A line that cannot be read is refused on its own, with its reason, and the file goes on: a byte
that is not text in the file's encoding, a NUL byte, a carriage return (CR) that does not end
the line, a line longer than :data:`MAX_LINE_BYTES` (never held whole: its first
:data:`KEPT_BYTES` are kept, with its length), a line that is not CSV (a quote not closed).
Finding them costs a few whole-block operations; only the refused lines are visited one by one.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from shuian.i18n import Message

#: Bytes read per block; rows of a block are parsed and stored together.
BLOCK_BYTES = 4 * 1024 * 1024
#: Longest line read (bytes, its line end excluded); a longer line is refused.
MAX_LINE_BYTES = 64 * 1024
#: Bytes kept of a refused line longer than :data:`MAX_LINE_BYTES` (its start).
KEPT_BYTES = 1024
#: Longest channel text a row carries (the store's channel codes are at most 64 characters).
MAX_CHANNEL_TEXT = 64
#: What the parser sees in place of a refused line: one field, so the line keeps its row.
PLACEHOLDER = b"-"

_NAMES = {"utf-8": "UTF-8", "gbk": "GBK", "gb18030": "GB18030"}

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
    r"""Whole lines of a file: ``data`` holds lines ``first_line`` .. ``first_line + count - 1``.

    ``data`` is UTF-8 whatever the file's encoding, lines separated by ``\n``; a refused line
    is :data:`PLACEHOLDER` there, and ``refused`` maps its index in the block (0-based) to its
    reason and its text as read (undecodable bytes written as ``\xNN``).
    """

    data: bytes
    first_line: int
    count: int
    refused: Mapping[int, tuple[Message, str]] = field(default_factory=dict)

    def texts(self) -> Callable[[int], str]:
        """A lookup of line texts (by 0-based index) that splits the block once, on first use."""
        cache: list[bytes] = []

        def text(index: int) -> str:
            if index in self.refused:
                return self.refused[index][1]
            if not cache:
                cache.extend(self.data.split(b"\n"))
            return cache[index].removesuffix(b"\r").decode("utf-8")

        return text


def iter_line_blocks(
    stream: BinaryIO,
    *,
    first_line: int,
    encoding: str = "utf-8",
    block_bytes: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[LineBlock]:
    """Yield blocks of whole lines from ``stream``, numbering lines from ``first_line``.

    ``encoding`` is the file's (a name of :data:`ENCODINGS <shuian.ingest.files.ENCODINGS>`);
    ``on_progress`` is called with the number of bytes read from ``stream`` each time;
    ``block_bytes`` defaults to the module's :data:`BLOCK_BYTES` at the time of the call. Memory
    stays within about two blocks, however long a line is.
    """
    block_bytes = block_bytes or BLOCK_BYTES
    carry = b""  # the start of a line that goes on in the next chunk
    long_head: bytes | None = None  # the first bytes of a line too long to hold, while skipped
    long_size = 0
    line = first_line
    while chunk := stream.read(block_bytes):
        read = len(chunk)
        if long_head is not None:
            cut = chunk.find(b"\n")
            if cut < 0:
                long_size += len(chunk)
                chunk = b""
            else:
                yield _long_line(long_head, long_size + cut, line, encoding)
                line += 1
                long_head, chunk = None, chunk[cut + 1 :]
        data = carry + chunk
        cut = data.rfind(b"\n")
        carry = data[cut + 1 :]
        if cut >= 0:
            block = _block(data[:cut], line, encoding)
            line += block.count
            yield block
        if len(carry) > MAX_LINE_BYTES:
            long_head, long_size, carry = carry[:KEPT_BYTES], len(carry), b""
        if on_progress is not None:
            on_progress(read)
    if long_head is not None:
        yield _long_line(long_head, long_size, line, encoding)
    elif carry.strip():
        yield _block(carry, line, encoding)


def _long_reason(size: int) -> Message:
    """The reason a line of ``size`` bytes is refused."""
    return Message.of("reject.line_too_long", size=size, most=MAX_LINE_BYTES, kept=KEPT_BYTES)


def _long_line(head: bytes, size: int, line: int, encoding: str) -> LineBlock:
    """A block of one line too long to hold: its first bytes and its length (bytes)."""
    text = head.removesuffix(b"\r").decode(encoding, errors="backslashreplace")
    return LineBlock(PLACEHOLDER, line, 1, {0: (_long_reason(size), text)})


def _block(data: bytes, first_line: int, encoding: str) -> LineBlock:
    """A block of the lines in ``data`` (no final line end), its unreadable lines refused."""
    bytes_ = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(bytes_ == ord("\n"))
    count = len(ends) + 1
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(data)]))
    long = len(data) > MAX_LINE_BYTES and int((stops - starts).max()) > MAX_LINE_BYTES
    nul = b"\x00" in data
    bare_cr = np.empty(0, dtype=np.intp)
    if b"\r" in data:
        cr = np.flatnonzero(bytes_ == ord("\r"))
        after = bytes_[np.minimum(cr + 1, len(data) - 1)]
        bare_cr = cr[(cr + 1 < len(data)) & (after != ord("\n"))]
    if not long and not nul and not len(bare_cr) and _decodes(data, encoding):
        return LineBlock(data if encoding == "utf-8" else _utf8(data, encoding), first_line, count)
    reasons: dict[int, Message] = {}
    for i in np.flatnonzero(stops - starts > MAX_LINE_BYTES):
        reasons[int(i)] = _long_reason(int(stops[i] - starts[i]))
    if nul:
        for i in np.unique(np.searchsorted(ends, np.flatnonzero(bytes_ == 0))):
            reasons.setdefault(int(i), Message.of("reject.nul_byte"))
    for i in np.unique(np.searchsorted(ends, bare_cr)):
        reasons.setdefault(int(i), Message.of("reject.bare_cr"))
    _refuse_undecodable(data, ends, starts, encoding, reasons)
    refused: dict[int, tuple[Message, str]] = {}
    parts: list[bytes] = []
    at = 0
    for line in sorted(reasons):
        start, stop = int(starts[line]), int(stops[line])
        kept = data[start : min(stop, start + KEPT_BYTES)] if stop - start > MAX_LINE_BYTES else (
            data[start:stop])
        text = kept.removesuffix(b"\r").decode(encoding, errors="backslashreplace")
        refused[line] = (reasons[line], text)
        parts += [data[at:start], PLACEHOLDER]
        at = stop
    parts.append(data[at:])
    clean = b"".join(parts)
    return LineBlock(clean if encoding == "utf-8" else _utf8(clean, encoding), first_line, count,
                     refused)


def _decodes(data: bytes, encoding: str) -> bool:
    if data.isascii():
        return True
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _utf8(data: bytes, encoding: str) -> bytes:
    return data if data.isascii() else data.decode(encoding).encode("utf-8")


def _refuse_undecodable(
    data: bytes,
    ends: NDArray[np.intp],
    starts: NDArray[np.intp],
    encoding: str,
    reasons: dict[int, Message],
) -> None:
    """Give every line of ``data`` that is not text in ``encoding`` a reason (one per line).

    One decoding of the block (undecodable bytes kept as surrogate escapes), then one search
    per line: a block of a file in another code page, every line bad, costs as much as a good
    one, not a decoding of the rest of the block per bad line.
    """
    text = data.decode(encoding, errors="surrogateescape")
    lines = text.split("\n")
    if len(lines) != len(starts):  # a bad byte swallowed a line end: count no lines wrong
        lines = [data[a:b].decode(encoding, errors="surrogateescape")
                 for a, b in zip(starts, np.append(ends, len(data)), strict=True)]
    key = "reject.not_utf8" if encoding == "utf-8" else "reject.not_encoding"
    for i, line in enumerate(lines):
        found = _ESCAPED.search(line)
        if found is None:
            continue
        offset = len(line[: found.start()].encode(encoding, errors="surrogateescape"))
        shown = found.group().encode(encoding, errors="surrogateescape").hex(" ").upper()
        reasons.setdefault(i, Message.of(
            key, encoding=_NAMES.get(encoding, encoding), shown=shown, at=offset + 1))


#: Bytes that did not decode, as the ``surrogateescape`` handler keeps them.
_ESCAPED = re.compile("[\udc80-\udcff]+")


def parse_block(
    block: LineBlock, names: list[str]
) -> tuple[pd.DataFrame, NDArray[np.int64], NDArray[np.object_]]:
    """Parse a block of CSV lines into string columns ``names``.

    Returns the frame, the line number of each row and the reason each row's line is refused
    (None where it is not): the block's refused lines and lines that are not CSV, each a row
    with every field NA. Blank lines are dropped; a line with more fields than ``names`` keeps
    its extra text in a column ``_extra`` (rejected later), so rows and lines never fall out of
    step.
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
        reasons = np.full(len(frame), None, dtype=object)
    except (pd.errors.ParserError, pd.errors.ParserWarning):
        frame, reasons = _parse_block_slowly(block, names)
    if len(frame) != block.count:  # quoted line breaks: rows no longer map to lines
        frame, reasons = _parse_block_slowly(block, names)
    if block.refused:
        index = np.fromiter(block.refused, dtype=np.int64)
        reasons[index] = [reason for reason, _ in block.refused.values()]
    lines = np.arange(block.first_line, block.first_line + len(frame), dtype=np.int64)
    refused = ~pd.isna(reasons)
    if refused.any():
        frame.iloc[np.flatnonzero(refused)] = None
    blank = frame[names].isna().all(axis=1).to_numpy() & ~refused
    if blank.any():
        frame, lines, reasons = frame[~blank].reset_index(drop=True), lines[~blank], reasons[~blank]
    return frame, lines, reasons


def _parse_block_slowly(
    block: LineBlock, names: list[str]
) -> tuple[pd.DataFrame, NDArray[np.object_]]:
    """Parse line by line: only for blocks with malformed lines (fields, quotes)."""
    rows: list[list[str | None]] = []
    reasons = np.full(block.count, None, dtype=object)
    for i, text in enumerate(block.data.decode("utf-8").split("\n")):
        line = text.removesuffix("\r")
        fields: list[str | None] = list(next(csv.reader([line]), []))  # as pandas reads it
        if '"' in line and _not_closed(line):
            reasons[i] = Message.of("reject.quote_not_closed")
            fields = []
        extra = ",".join(str(f) for f in fields[len(names) :]) if len(fields) > len(names) else None
        fields = [f if f != "" else None for f in fields[: len(names)]]
        rows.append(fields + [None] * (len(names) - len(fields)) + [extra])
    return pd.DataFrame(rows, columns=[*names, "_extra"], dtype="str"), reasons


def _not_closed(line: str) -> bool:
    """Whether ``line`` ends inside a quoted field: closing it makes it read strictly."""
    try:
        next(csv.reader([line], strict=True))
    except csv.Error:
        try:
            next(csv.reader([line + '"'], strict=True))
        except csv.Error:
            return False
        return True
    return False

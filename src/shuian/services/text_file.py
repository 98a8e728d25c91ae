"""The text of a small CSV file a user gives a command (an HST export, a routing table).

Read whole (such files are small), decoded as UTF-8 (a byte-order mark skipped); a file that
cannot be read, is too large or is not UTF-8 text is an :class:`InputFileError` naming the file
and the line, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

from shuian.errors import InputFileError

#: Largest file read whole (bytes); data files for ingest are streamed instead.
MAX_TEXT_FILE_BYTES = 256 * 1024 * 1024


def read_text(path: Path, source: str) -> str:
    """The file's text; ``source`` names it in messages.

    Raises
    ------
    InputFileError
        The file cannot be read, is over :data:`MAX_TEXT_FILE_BYTES`, is not UTF-8 (the line
        of the first bad byte is named) or holds a NUL byte.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_TEXT_FILE_BYTES + 1)
    except OSError as exc:
        raise InputFileError(f"{source}: cannot be read ({exc.strerror})") from exc
    if len(data) > MAX_TEXT_FILE_BYTES:
        raise InputFileError(
            f"{source}: larger than {MAX_TEXT_FILE_BYTES // 2**20} MiB; split the file"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputFileError(
            f"{source}: line {line}: byte 0x{data[exc.start]:02X} is not UTF-8 text; save the "
            "file as UTF-8 (a GBK export: 'iconv -f GBK -t UTF-8')"
        ) from exc
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InputFileError(f"{source}: line {line}: a NUL byte; this is not a text file")
    return text

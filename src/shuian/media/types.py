r"""What kind of object a run of bytes is, read from the bytes themselves (their signature).

The media store keeps a few kinds only, and names each by the type the bytes' signature shows,
never by what a sender declares: a declared type that disagrees with the bytes is the sender's
mistake (:class:`~shuian.errors.InvalidRequestError`), and so is a kind not kept.

======================  ==========================================  =========================
kind                    signature                                   source
======================  ==========================================  =========================
``image/jpeg``          ``FF D8 FF`` (SOI, then a marker)           ITU-T T.81, Table B.1
``image/png``           ``89 50 4E 47 0D 0A 1A 0A``                 RFC 2083, 3.1
``image/gif``           ``GIF87a`` or ``GIF89a``                    GIF89a spec, 17
``image/webp``          ``RIFF`` size ``WEBP``                      RFC 9649, RIFF header
``application/pdf``     ``%PDF-``                                   ISO 32000-1, 7.5.2
``application/zip``     ``PK 03 04`` (a local file header)          PKWARE APPNOTE 4.3.7
XLSX (below)            a ZIP holding ``xl/workbook.xml``           ECMA-376 (workbook part)
``video/mp4``           ``ftyp`` at offset 4 (not ``qt``)           ISO/IEC 14496-12, 4.3
``text/plain``          UTF-8 without control characters            (no signature: the rest)
======================  ==========================================  =========================

XLSX is ``application/vnd.openxmlformats-officedocument.spreadsheetml.sheet``; ``text/csv`` is
accepted where the bytes are text and the sender declares it.

>>> content_type(b"\xff\xd8\xff\xe0" + bytes(16))
'image/jpeg'
>>> content_type(b"a,b\n1,2\n", declared="text/csv; charset=utf-8")
'text/csv'
"""

from __future__ import annotations

import io
import zipfile

from shuian.errors import InvalidRequestError, TooLargeError

__all__ = [
    "EXTENSIONS",
    "IMAGE_TYPES",
    "KEPT_TYPES",
    "MAX_OBJECT_BYTES",
    "XLSX",
    "check_size",
    "content_type",
    "sniff",
]

#: Largest object kept unless a caller says otherwise (bytes; 32 MiB).
MAX_OBJECT_BYTES = 32 * 1024 * 1024

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Every type the media store keeps.
KEPT_TYPES = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf", "application/zip",
    XLSX, "video/mp4", "text/plain", "text/csv",
})
#: The types shown in a page (served inline); the others are served as attachments.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

#: The file name extension of each kept type (for a download's name).
EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
    "application/pdf": ".pdf", "application/zip": ".zip", XLSX: ".xlsx", "video/mp4": ".mp4",
    "text/plain": ".txt", "text/csv": ".csv",
}

#: Other names senders use for a kept type.
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg",
            "application/x-zip-compressed": "application/zip"}
#: Declared types that declare nothing (a client's default for any file).
_UNDECLARED = frozenset({"application/octet-stream", "binary/octet-stream"})
#: Types the bytes cannot tell apart from the one sniffed: the declared one is kept.
_NARROWER = {("text/plain", "text/csv")}
#: Bytes that are control characters in text (tab, line feed and carriage return are not).
_TEXT_CONTROLS = frozenset(range(0x20)) - {0x09, 0x0A, 0x0D} | {0x7F}


def _is_text(data: bytes) -> bool:
    """Whether ``data`` is UTF-8 text without control characters (tab and line ends aside)."""
    if _TEXT_CONTROLS.intersection(data):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _zip_type(data: bytes) -> str:
    """XLSX for a ZIP holding a workbook, else ``application/zip`` (reads the directory only)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise InvalidRequestError(
            f"the bytes begin like a ZIP archive but are not one ({exc}): send the whole file"
        ) from exc
    return XLSX if "xl/workbook.xml" in names else "application/zip"


def sniff(data: bytes) -> str | None:
    """The kept type the bytes' signature shows (see the module's table), or None.

    Parameters
    ----------
    data : bytes
        The whole object (a ZIP's directory is at its end).

    Returns
    -------
    str or None
        A type of :data:`KEPT_TYPES` (never ``text/csv``: text is ``text/plain``), or None
        when the bytes are none of the kinds kept.
    """
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(data)
    if head[4:8] == b"ftyp" and head[8:12] != b"qt  ":
        return "video/mp4"
    if data and _is_text(data):
        return "text/plain"
    return None


def _plain_type(declared: str) -> str:
    """A declared type without its parameters, lower case, its alias resolved."""
    bare = declared.split(";", 1)[0].strip().lower()
    return _ALIASES.get(bare, bare)


def content_type(data: bytes, *, declared: str | None = None) -> str:
    """The type to keep an object under: the one its bytes show, checked against ``declared``.

    Parameters
    ----------
    data : bytes
        The whole object.
    declared : str, optional
        The type a sender gave (``image/jpeg``, ``text/csv; charset=utf-8``); parameters are
        ignored, ``image/jpg`` is read as ``image/jpeg``, and ``application/octet-stream``
        declares nothing.

    Returns
    -------
    str
        A type of :data:`KEPT_TYPES`: the sniffed one, or ``text/csv`` for text declared so.

    Raises
    ------
    InvalidRequestError
        When the bytes are none of the kinds kept, or not the kind declared (both named).
    """
    found = sniff(data)
    if found is None:
        raise InvalidRequestError(
            f"the object ({len(data)} bytes, beginning {data[:8].hex(' ').upper() or 'empty'})"
            " is none of the kinds kept (JPEG, PNG, GIF, WebP, PDF, XLSX or ZIP, MP4, UTF-8 "
            "text or CSV): convert it to one of them"
        )
    wanted = None if declared is None else _plain_type(declared)
    if wanted is None or wanted in _UNDECLARED or wanted == found:
        return found
    if (found, wanted) in _NARROWER:
        return wanted
    raise InvalidRequestError(
        f"the object was declared {wanted!r} but its bytes are {found!r}: declare its real type "
        "or send the file meant"
    )


def check_size(size: int, *, limit: int = MAX_OBJECT_BYTES) -> None:
    """Refuse an object larger than ``limit`` bytes (:class:`~shuian.errors.TooLargeError`).

    Parameters
    ----------
    size : int
        The object's size (bytes).
    limit : int, optional
        The most bytes an object may have; default :data:`MAX_OBJECT_BYTES` (32 MiB).
    """
    if size > limit:
        raise TooLargeError(
            f"the object has {size} bytes, more than the {limit} bytes "
            f"({limit / 2**20:g} MiB) an object may have: send a smaller one"
        )
    if size == 0:
        raise InvalidRequestError("the object is empty (0 bytes): send the file's bytes")

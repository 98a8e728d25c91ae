"""A content-addressed folder of objects: each object's name is the SHA-256 of its bytes.

An object lives at ``ROOT/ab/cd/abcd…`` (its 64 hex digits, fanned out by the first two pairs so
that no folder holds more than a few thousand entries). It is written atomically: the bytes go
to a temporary file in ``ROOT/.incoming/`` (the same file system, so the rename is atomic),
which is flushed and synced, then renamed onto its name with :func:`os.replace` and the folder
synced. A reader thus sees a whole object or none; a crash before the rename leaves only a
temporary file, whose name is never a digest (:meth:`ContentFiles.remove_incoming` clears
those). An object already there is not written again: the same bytes have the same name.

Only a name of 64 lower-case hex digits is ever turned into a path (:func:`check_digest`), so
no name can reach outside the root.

Failures of the file system (full, read-only, gone) are
:class:`~shuian.errors.StoreUnavailableError`: the system's, not the input's (see
:mod:`shuian.faults`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from shuian.errors import InvalidRequestError, NotFoundError, StoreUnavailableError

__all__ = ["INCOMING", "ContentFiles", "check_digest", "digest_of"]

#: The folder of temporary files under the root (never a digest's first pair).
INCOMING = ".incoming"
_DIGEST = re.compile(r"[0-9a-f]{64}")


def digest_of(data: bytes) -> str:
    """The name of ``data``: its SHA-256, 64 lower-case hex digits."""
    return hashlib.sha256(data).hexdigest()


def check_digest(name: str) -> str:
    """Give ``name`` back if it is a SHA-256 in lower-case hex; refuse anything else.

    Raises
    ------
    InvalidRequestError
        When ``name`` is not exactly 64 characters ``0-9a-f`` (a path, ``..``, a separator).
    """
    if not _DIGEST.fullmatch(name):
        raise InvalidRequestError(
            f"{name[:80]!r} is not an object name: a name is the 64 lower-case hex digits of "
            "the SHA-256 of the object's bytes"
        )
    return name


@contextlib.contextmanager
def _file_system(root: Path, doing: str) -> Iterator[None]:
    """Turn an error of the file system into :class:`StoreUnavailableError` naming the root."""
    try:
        yield
    except OSError as exc:
        raise StoreUnavailableError(f"media folder {root}: cannot {doing}: {exc}") from exc


def _sync_folder(folder: Path) -> None:
    """Make a folder's entries (a new name) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ContentFiles:
    """Objects under ``root``, named by the SHA-256 of their bytes.

    Parameters
    ----------
    root : Path
        The folder; it (and its sub-folders) are made on the first write.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        """Where the object named ``digest`` lives (``ROOT/ab/cd/<digest>``)."""
        check_digest(digest)
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        """Keep ``data`` (atomically; not again if it is there already); give its name.

        Raises
        ------
        StoreUnavailableError
            When the folder cannot be written (full, read-only, missing permissions).
        """
        digest = digest_of(data)
        final = self.path(digest)
        if final.is_file():
            return digest
        incoming = self.root / INCOMING
        with _file_system(self.root, f"write object {digest}"):
            incoming.mkdir(parents=True, exist_ok=True)
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=incoming, prefix="object-", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, final)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            _sync_folder(final.parent)
        return digest

    def exists(self, digest: str) -> bool:
        """Whether the object named ``digest`` is kept."""
        return self.path(digest).is_file()

    def open(self, digest: str) -> BinaryIO:
        """Open the object named ``digest`` for reading (binary); the caller closes it.

        Raises
        ------
        NotFoundError
            When no object has that name.
        """
        path = self.path(digest)
        try:
            return path.open("rb")
        except FileNotFoundError as exc:
            raise NotFoundError(f"no object {digest} in the media folder {self.root}") from exc

    def read(self, digest: str) -> bytes:
        """The bytes of the object named ``digest`` (:class:`NotFoundError` when missing)."""
        with self.open(digest) as source:
            return source.read()

    def delete(self, digest: str) -> bool:
        """Remove the object named ``digest``; False when it was not there."""
        path = self.path(digest)
        with _file_system(self.root, f"remove object {digest}"):
            try:
                path.unlink()
            except FileNotFoundError:
                return False
        return True

    def size(self) -> int:
        """Bytes of all objects kept (a walk of the folder: one ``stat`` per object)."""
        total = 0
        if not self.root.is_dir():
            return 0
        with _file_system(self.root, "measure the objects"):
            for first in self.root.iterdir():
                if len(first.name) != 2 or not first.is_dir():
                    continue
                for path in first.glob("??/*"):
                    if _DIGEST.fullmatch(path.name):
                        total += path.stat().st_size
        return total

    def remove_incoming(self, *, older_than_s: float, now_s: float | None = None) -> int:
        """Remove temporary files older than ``older_than_s`` seconds (left by a crash).

        A write in progress is younger than that; give the number removed.
        """
        incoming = self.root / INCOMING
        if not incoming.is_dir():
            return 0
        now_s = time.time() if now_s is None else now_s
        removed = 0
        with _file_system(self.root, "clear temporary files"):
            for path in incoming.iterdir():
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime < now_s - older_than_s:
                        path.unlink()
                        removed += 1
        return removed

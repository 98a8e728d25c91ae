"""Storage of the media's metadata: which file (by SHA-256), of which site, from where, when.

The bytes are not here: they are files under the media folder (:mod:`shuian.media.files`),
which this mixin never touches itself. Adding a row and deleting rows take a callable that
writes or removes the files while the rows are being changed, serialised with every other add
or delete of the same file (PostgreSQL: an advisory lock per file; SQLite: the one writer), so
that a file is removed only when no row names it, and never while a new row comes to name it.

Plain SQLAlchemy Core shared by both backends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import sqlalchemy.dialects.postgresql
import sqlalchemy.dialects.sqlite

from shuian.errors import NotFoundError
from shuian.store import schema

__all__ = ["MAX_MEDIA_IDS", "MediaTables", "MediaUsage", "StoredMedia"]

#: Most rows one :meth:`MediaTables.delete_media` or reference count may name.
MAX_MEDIA_IDS = 1000


@dataclass(frozen=True)
class StoredMedia:
    """An object's metadata: its file (``sha256``), site, source, times (µs), size and type."""

    id: int
    site_id: int
    source: str
    taken_us: int
    stored_us: int
    sha256: str
    size: int
    content_type: str
    retention: str
    name: str | None


@dataclass(frozen=True)
class MediaUsage:
    """The rows of one retention class and the bytes they name (a file shared counts in each)."""

    retention: str
    count: int
    bytes: int


def _media(row: Sequence[Any]) -> StoredMedia:
    return StoredMedia(int(row[0]), int(row[1]), row[2], int(row[3]), int(row[4]), row[5],
                       int(row[6]), row[7], row[8], row[9])


def _lock_key(sha256: str) -> int:
    """A signed 64-bit number for a file: the key of PostgreSQL's advisory lock."""
    return int.from_bytes(bytes.fromhex(sha256[:16]), "big", signed=True)


class MediaTables:
    """The media part of :class:`~shuian.store.Store` (mixed into it)."""

    engine: sa.Engine
    _translate: Callable[[], AbstractContextManager[None]]  # Store's: driver errors translated

    @staticmethod
    def _lock_files(conn: sa.Connection, digests: Sequence[str]) -> None:
        """Serialise this transaction with every other that adds or deletes these files."""
        if conn.dialect.name == "postgresql":
            for key in sorted({_lock_key(d) for d in digests}):  # one order: no deadlock
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))

    def add_media(
        self, *, site_id: int, source: str, taken_us: int, stored_us: int, sha256: str,
        size: int, content_type: str, retention: str, name: str | None,
        keep_file: Callable[[], None],
    ) -> tuple[StoredMedia, bool]:
        """Keep an object's row, and its file by ``keep_file``, in one transaction.

        The same object (site, source, ``sha256`` and ``taken_us``) put again is the row kept
        before, unchanged; ``keep_file`` runs all the same (it writes the file if it is
        missing). When ``keep_file`` raises, no row is kept.

        Returns
        -------
        tuple of (StoredMedia, bool)
            The row, and whether it is new.
        """
        m = schema.media
        row = {"site_id": site_id, "source": source, "taken_us": taken_us,
               "stored_us": stored_us, "sha256": sha256, "size": size,
               "content_type": content_type, "retention": retention, "name": name}
        insert = (sa.dialects.postgresql.insert if self.engine.dialect.name == "postgresql"
                  else sa.dialects.sqlite.insert)
        with self._translate(), self.engine.begin() as conn:
            self._lock_files(conn, [sha256])
            created = conn.execute(insert(m).values(row).on_conflict_do_nothing()).rowcount
            found = conn.execute(sa.select(*m.c).where(
                m.c.site_id == site_id, m.c.source == source, m.c.sha256 == sha256,
                m.c.taken_us == taken_us)).one()
            keep_file()  # on SQLite the INSERT holds the write lock already
        return _media(found), bool(created)

    def media_item(self, media_id: int) -> StoredMedia:
        """The object ``media_id``; :class:`NotFoundError` when there is none."""
        m = schema.media
        with self._translate(), self.engine.connect() as conn:
            row = conn.execute(sa.select(*m.c).where(m.c.id == media_id)).first()
        if row is None:
            raise NotFoundError(f"no media {media_id}: GET /api/media?site=CODE lists a site's")
        return _media(row)

    @staticmethod
    def _listed(
        site_id: int, source: str | None, start_us: int | None, end_us: int | None
    ) -> list[sa.ColumnElement[bool]]:
        m = schema.media
        where = [m.c.site_id == site_id]
        if source is not None:
            where.append(m.c.source == source)
        if start_us is not None:
            where.append(m.c.taken_us >= start_us)
        if end_us is not None:
            where.append(m.c.taken_us < end_us)
        return where

    def media_items(
        self, site_id: int, *, source: str | None = None, start_us: int | None = None,
        end_us: int | None = None, limit: int = 100, offset: int = 0,
    ) -> list[StoredMedia]:
        """A page of a site's objects taken in ``[start, end)`` (of one source), newest first."""
        m = schema.media
        query = (sa.select(*m.c).where(*self._listed(site_id, source, start_us, end_us))
                 .order_by(m.c.taken_us.desc(), m.c.id.desc()).limit(limit).offset(offset))
        with self._translate(), self.engine.connect() as conn:
            return [_media(row) for row in conn.execute(query)]

    def media_count(
        self, site_id: int, *, source: str | None = None, start_us: int | None = None,
        end_us: int | None = None,
    ) -> int:
        """How many objects :meth:`media_items` has on all its pages."""
        query = (sa.select(sa.func.count()).select_from(schema.media)
                 .where(*self._listed(site_id, source, start_us, end_us)))
        with self._translate(), self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def media_usage(self) -> dict[str, MediaUsage]:
        """Rows and bytes per retention class, over every site (one query)."""
        m = schema.media
        query = (sa.select(m.c.retention, sa.func.count(), sa.func.sum(m.c.size))
                 .group_by(m.c.retention))
        with self._translate(), self.engine.connect() as conn:
            return {r: MediaUsage(r, int(n), int(b or 0)) for r, n, b in conn.execute(query)}

    def media_file_bytes(self) -> int:
        """Bytes of the files the rows name, each file once: what the media folder holds."""
        m = schema.media
        files = sa.select(sa.func.max(m.c.size).label("size")).group_by(m.c.sha256).subquery()
        with self._translate(), self.engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.sum(files.c.size))) or 0)

    def media_oldest(
        self, retention: str, *, stored_before_us: int | None = None,
        after: tuple[int, int] | None = None, limit: int = MAX_MEDIA_IDS,
    ) -> list[StoredMedia]:
        """Objects of a retention class, oldest kept first: the candidates to expire.

        Parameters
        ----------
        retention : str
            The class (``routine``, ``event``, ...).
        stored_before_us : int, optional
            Only objects kept before this time (µs since 1970 UTC): those past their age.
        after : tuple of (int, int), optional
            The ``(stored_us, id)`` of the last object of the page before: the next page.
        limit : int, optional
            Most objects to give.
        """
        m = schema.media
        query = sa.select(*m.c).where(m.c.retention == retention)
        if stored_before_us is not None:
            query = query.where(m.c.stored_us < stored_before_us)
        if after is not None:
            query = query.where(sa.tuple_(m.c.stored_us, m.c.id) > sa.tuple_(*after))
        query = query.order_by(m.c.stored_us, m.c.id).limit(limit)
        with self._translate(), self.engine.connect() as conn:
            return [_media(row) for row in conn.execute(query)]

    def media_references(self, digests: Sequence[str]) -> dict[str, int]:
        """How many rows name each file (at most :data:`MAX_MEDIA_IDS` files; absent: none)."""
        m = schema.media
        wanted = sorted(set(digests))[:MAX_MEDIA_IDS]
        query = (sa.select(m.c.sha256, sa.func.count()).where(m.c.sha256.in_(wanted))
                 .group_by(m.c.sha256))
        with self._translate(), self.engine.connect() as conn:
            return {str(sha): int(n) for sha, n in conn.execute(query)}

    def delete_media(
        self, media_ids: Sequence[int], *, remove_files: Callable[[list[str]], None]
    ) -> tuple[list[StoredMedia], list[str]]:
        """Delete rows (at most :data:`MAX_MEDIA_IDS`), and the files no row names any more.

        ``remove_files`` gets the names of the files whose last row went, inside the
        transaction; if it raises, no row is deleted.

        Returns
        -------
        tuple of (list of StoredMedia, list of str)
            The rows deleted (ids not found are skipped), and the files removed.
        """
        m = schema.media
        ids = sorted({int(i) for i in media_ids})
        if len(ids) > MAX_MEDIA_IDS:
            raise ValueError(f"{len(ids)} media rows to delete: at most {MAX_MEDIA_IDS} a call")
        if not ids:
            return [], []
        with self._translate(), self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # SQLite: the DELETE takes the write lock
                self._lock_files(conn, list(conn.scalars(
                    sa.select(m.c.sha256).where(m.c.id.in_(ids)))))
            conn.execute(schema.alarm_media.delete().where(  # an alarm's frames, expired
                schema.alarm_media.c.media_id.in_(ids)))
            rows = [_media(r) for r in conn.execute(
                m.delete().where(m.c.id.in_(ids)).returning(*m.c))]
            named = set(conn.scalars(sa.select(m.c.sha256).where(
                m.c.sha256.in_({r.sha256 for r in rows})).distinct()))
            gone = sorted({r.sha256 for r in rows} - named)
            if gone:
                remove_files(gone)
        return rows, gone

"""Storage of the cameras' status and of the frames kept with alarms (migration 0010).

Plain SQLAlchemy Core shared by both backends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa
import sqlalchemy.dialects.postgresql
import sqlalchemy.dialects.sqlite

from shuian.store import schema
from shuian.store.media import StoredMedia, _media

__all__ = ["ALARM_MEDIA_ROLES", "CameraTables"]

#: What a frame kept with an alarm is.
ALARM_MEDIA_ROLES = ("annotated", "before", "at", "after")


class CameraTables:
    """The cameras part of :class:`~shuian.store.Store` (mixed into it)."""

    engine: sa.Engine
    _translate: Callable[[], AbstractContextManager[None]]

    def put_camera_status(
        self, site_id: int, statuses: Mapping[str, Mapping[str, Any]], *, now_us: int
    ) -> None:
        """Keep the status of some cameras of a site (JSON-ready each), one statement."""
        if not statuses:
            return
        t = schema.camera_status
        insert = (sa.dialects.postgresql.insert if self.engine.dialect.name == "postgresql"
                  else sa.dialects.sqlite.insert)
        statement = insert(t)
        statement = statement.on_conflict_do_update(
            index_elements=["site_id", "camera"],
            set_={"status": statement.excluded.status,
                  "updated_us": statement.excluded.updated_us})
        rows = [{"site_id": site_id, "camera": code, "status": dict(status), "updated_us": now_us}
                for code, status in statuses.items()]
        with self._translate(), self.engine.begin() as conn:
            conn.execute(statement, rows)

    def camera_statuses(self, site_id: int) -> dict[str, tuple[dict[str, Any], int]]:
        """Each camera's last status and when it was written (µs), by camera code."""
        t = schema.camera_status
        with self._translate(), self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.camera, t.c.status, t.c.updated_us)
                                .where(t.c.site_id == site_id)).all()
        return {str(code): (dict(status), int(updated)) for code, status, updated in rows}

    def link_alarm_media(self, alarm_id: int, media: Sequence[tuple[int, str]]) -> None:
        """Keep media with an alarm, each with its role; a link kept before is left as it is."""
        unknown = sorted({role for _, role in media} - set(ALARM_MEDIA_ROLES))
        if unknown:
            raise ValueError(f"alarm media roles {unknown}: not among {ALARM_MEDIA_ROLES}")
        if not media:
            return
        t = schema.alarm_media
        insert = (sa.dialects.postgresql.insert if self.engine.dialect.name == "postgresql"
                  else sa.dialects.sqlite.insert)
        rows = [{"alarm_id": alarm_id, "media_id": m, "role": role} for m, role in media]
        with self._translate(), self.engine.begin() as conn:
            conn.execute(insert(t).on_conflict_do_nothing(), rows)

    def alarm_media(self, alarm_id: int) -> list[tuple[StoredMedia, str]]:
        """The media kept with an alarm and their roles, by time taken (one query)."""
        t, m = schema.alarm_media, schema.media
        query = (sa.select(*m.c, t.c.role).join(t, t.c.media_id == m.c.id)
                 .where(t.c.alarm_id == alarm_id).order_by(m.c.taken_us, m.c.id))
        with self._translate(), self.engine.connect() as conn:
            return [(_media(row[:-1]), str(row[-1])) for row in conn.execute(query)]

    def newest_media(
        self, site_id: int, sources: Sequence[str], *, at_us: int | None = None
    ) -> dict[str, StoredMedia]:
        """The newest object of each source taken at or before ``at_us`` (default: any), by source.

        One query, whatever the number of sources.
        """
        if not sources:
            return {}
        m = schema.media
        where = [m.c.site_id == site_id, m.c.source.in_(list(sources))]
        if at_us is not None:
            where.append(m.c.taken_us <= at_us)
        ranked = sa.select(*m.c, sa.func.row_number().over(
            partition_by=m.c.source, order_by=(m.c.taken_us.desc(), m.c.id.desc()),
        ).label("rank")).where(*where).subquery()
        query = sa.select(*[ranked.c[c.name] for c in m.c]).where(ranked.c.rank == 1)
        with self._translate(), self.engine.connect() as conn:
            return {row[2]: _media(row) for row in conn.execute(query)}

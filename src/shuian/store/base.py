"""The one storage interface; SQLite and PostgreSQL implement its bulk paths.

Everything that is not a bulk path (sites, instruments, channels, rejections, counts) is plain
SQLAlchemy Core shared by both backends. Bulk paths (writing and reading readings) are per backend:
one ``executemany`` on SQLite, one binary ``COPY`` on PostgreSQL, never a statement per reading.
"""

from __future__ import annotations

import abc
import datetime as dt
import math
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import sqlalchemy as sa
import sqlalchemy.dialects.postgresql
import sqlalchemy.dialects.sqlite
from alembic import command
from alembic.config import Config
from numpy.typing import NDArray

from shuian.errors import (
    NoSiteError,
    NotFoundError,
    StoreError,
    StoreRefusedError,
    StoreUnavailableError,
)
from shuian.readings import ReadingBatch, Rejection
from shuian.site import Site, parse_site
from shuian.store import schema
from shuian.store.analysis import AnalysisTables
from shuian.store.auth import AuthTables
from shuian.store.cameras import CameraTables
from shuian.store.jobs import JobTables
from shuian.store.media import MediaTables

#: Open ends of a time range (µs since 1970): years 68 and 9892, inside both backends' ranges.
EARLIEST_US = -60_000_000_000_000_000
LATEST_US = 250_000_000_000_000_000

#: Raw text kept per rejected row (characters; a 128 KiB frame in hex); longer text is cut.
MAX_RAW_TEXT = 262_144
#: Longest source name and reason kept per rejected row (characters).
MAX_SOURCE_TEXT = 512
MAX_REASON_TEXT = 2_000
#: Longest code of a site, instrument or channel (the columns are VARCHAR(64)).
MAX_CODE = 64
#: Largest line number a rejection keeps (the column is a 32-bit integer).
MAX_LINE = 2**31 - 1


@dataclass(frozen=True)
class ChannelInfo:
    """A channel as the store knows it: ids, codes, type, unit and limits."""

    id: int
    code: str
    instrument: str
    type: str
    quantity: str
    unit: str
    limit_min: float | None
    limit_max: float | None


@dataclass(frozen=True)
class StoredSite:
    """A site held in the store: its id and the validated site model."""

    id: int
    site: Site
    definition: str


@dataclass(frozen=True)
class StoredRejection:
    """A rejected row as kept in the store."""

    id: int
    received_at: dt.datetime
    source: str
    line: int | None
    channel: str | None
    raw: str
    reason: str
    #: The reason's catalogue key and parameters (None: a reason without a key yet).
    reason_key: str | None = None
    reason_params: dict[str, Any] | None = None


class Store(AnalysisTables, AuthTables, CameraTables, JobTables, MediaTables, abc.ABC):
    """Storage of sites, channels, readings, rejections, analysis results, accounts, jobs, media.

    Open one with :func:`shuian.store.open_store`; it migrates the schema to the current
    version on open.
    """

    def __init__(self, engine: sa.Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self._parsed: dict[str, Site] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the newest version (Alembic migrations in ``migrations/``)."""
        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self._translate(), self.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    @contextmanager
    def _translate(self) -> Iterator[None]:
        """Turn driver errors into store errors naming the database.

        :class:`StoreUnavailableError` when the database is away (connection lost or refused, a
        lock not granted, a server out of resources: worth retrying), :class:`StoreRefusedError`
        when it refused the data themselves (too long, out of range, NUL, a constraint:
        retrying the same data cannot help), :class:`StoreError` otherwise.
        """
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError) as exc:
            raise StoreUnavailableError(
                f"database {self.url}: {getattr(exc, 'orig', None) or exc}"
            ) from exc
        except (sa.exc.DataError, sa.exc.IntegrityError) as exc:
            raise StoreRefusedError(f"database {self.url} refused the data: {exc.orig}") from exc
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"database {self.url} refused the operation: {exc.orig}") from exc
        except (psycopg.OperationalError, psycopg.InterfaceError, sqlite3.OperationalError,
                sqlite3.InterfaceError) as exc:  # from the drivers' own calls (COPY ...)
            raise StoreUnavailableError(f"database {self.url}: {exc}") from exc
        except (psycopg.DataError, psycopg.IntegrityError, sqlite3.DataError,
                sqlite3.IntegrityError) as exc:
            raise StoreRefusedError(f"database {self.url} refused the data: {exc}") from exc
        except (psycopg.Error, sqlite3.Error) as exc:
            raise StoreError(f"database {self.url}: {exc}") from exc

    # -- sites and channels ------------------------------------------------------------------

    def save_site(self, site: Site, definition: str) -> int:
        """Store (or update) a site and its instruments and channels; return the site id.

        Channels keep their ids across updates (matched by code), so readings stay attached.
        Channels missing from the new file but holding readings are kept.
        """
        r = site.reservoir
        now = dt.datetime.now(dt.UTC)
        with self._translate(), self.engine.begin() as conn:
            row = {
                "code": r.code,
                "name": r.name,
                "name_zh": r.name_zh,
                "timezone": r.timezone,
                "synthetic": r.synthetic,
                "definition": definition,
                "updated_at": now,
            }
            existing = conn.scalar(
                sa.select(schema.sites.c.id).where(schema.sites.c.code == r.code)
            )
            if existing is None:
                result = conn.execute(schema.sites.insert().values(row))
                site_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            else:
                site_id = int(existing)
                conn.execute(schema.sites.update().where(schema.sites.c.id == site_id).values(row))
            instrument_ids = self._upsert(
                conn,
                schema.instruments,
                site_id,
                [
                    {
                        "code": i.code,
                        "type": i.type,
                        "section": i.section,
                        "elevation": i.elevation,
                        "chainage": i.chainage,
                        "installed": i.installed,
                        "manual": i.manual,
                    }
                    for i in site.instruments
                ],
            )
            self._upsert(
                conn,
                schema.channels,
                site_id,
                [
                    {
                        "instrument_id": instrument_ids[i.code],
                        "code": c.code,
                        "quantity": c.quantity,
                        "unit": c.unit,
                        "limit_min": c.limits.min,
                        "limit_max": c.limits.max,
                        "conversion": c.conversion.model_dump(mode="json"),
                    }
                    for i in site.instruments
                    for c in i.channels
                ],
            )
        return int(site_id)

    @staticmethod
    def _upsert(
        conn: sa.Connection, table: sa.Table, site_id: int, rows: list[dict[str, Any]]
    ) -> dict[str, int]:
        """Insert new rows and update existing ones (by site and code): one statement each."""
        existing = dict(
            conn.execute(
                sa.select(table.c.code, table.c.id).where(table.c.site_id == site_id)
            ).all()
        )
        new = [{**row, "site_id": site_id} for row in rows if row["code"] not in existing]
        old = [{**row, "_id": existing[row["code"]]} for row in rows if row["code"] in existing]
        if new:
            conn.execute(table.insert(), new)
        if old:
            conn.execute(
                table.update()
                .where(table.c.id == sa.bindparam("_id"))
                .values({k: sa.bindparam(k) for k in rows[0] if k != "code"}),
                old,
            )
        return dict(
            conn.execute(
                sa.select(table.c.code, table.c.id).where(table.c.site_id == site_id)
            ).all()
        )

    def sites(self) -> list[str]:
        """Codes of the sites in the store."""
        with self._translate(), self.engine.connect() as conn:
            return list(conn.scalars(sa.select(schema.sites.c.code).order_by(schema.sites.c.id)))

    def site(self, code: str | None = None) -> StoredSite:
        """The site with ``code``, or the only (first) site when ``code`` is None."""
        query = sa.select(schema.sites.c.id, schema.sites.c.code, schema.sites.c.definition)
        query = query.where(schema.sites.c.code == code) if code else query
        with self._translate(), self.engine.connect() as conn:
            row = conn.execute(query.order_by(schema.sites.c.id).limit(1)).first()
        if row is None:
            if code is None:
                raise NoSiteError(self.url)
            raise NotFoundError(f"no site {code!r} in {self.url}; known: {self.sites()}")
        site = self._parsed.get(row.definition)
        if site is None:  # parse a site file once, not on every request
            site = parse_site(row.definition, source=f"site {row.code}")
            self._parsed = {row.definition: site}
        return StoredSite(row.id, site, row.definition)

    def channels(self, site_id: int) -> list[ChannelInfo]:
        """Every channel of a site with its instrument and type, in code order."""
        c, i = schema.channels, schema.instruments
        query = (
            sa.select(
                c.c.id, c.c.code, i.c.code.label("instrument"), i.c.type, c.c.quantity,
                c.c.unit, c.c.limit_min, c.c.limit_max,
            )
            .join(i, i.c.id == c.c.instrument_id)
            .where(c.c.site_id == site_id)
            .order_by(c.c.code)
        )
        with self._translate(), self.engine.connect() as conn:
            return [ChannelInfo(*row) for row in conn.execute(query)]

    def channel(self, site_id: int, code: str) -> ChannelInfo:
        """One channel by code; :class:`NotFoundError` names the code when it does not exist."""
        for info in self.channels(site_id):
            if info.code == code:
                return info
        raise NotFoundError(
            f"no channel {code!r} in this site; 'shuian channels' lists the channels"
        )

    # -- readings ------------------------------------------------------------------------------

    def write_readings(self, batch: ReadingBatch) -> int:
        """Store a batch of readings in one transaction; return how many were new.

        A reading whose (channel, time) is already stored is left as it is (a duplicate).
        """
        if len(batch) == 0:
            return 0
        with self._translate():
            return self._write_readings(batch)

    @abc.abstractmethod
    def _write_readings(self, batch: ReadingBatch) -> int: ...

    def readings(
        self, channel_id: int, start_us: int | None = None, end_us: int | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Times (µs since epoch, UTC) and values of one channel in ``[start, end)``, by time."""
        with self._translate():
            return self._readings(
                channel_id,
                EARLIEST_US if start_us is None else start_us,
                LATEST_US if end_us is None else end_us,
            )

    @abc.abstractmethod
    def _readings(
        self, channel_id: int, start_us: int, end_us: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]: ...

    def readings_many(
        self, channel_ids: Sequence[int], start_us: int | None = None, end_us: int | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """Channel ids, times (µs) and values of several channels in ``[start, end)``, one query.

        Sorted by channel, then time.
        """
        if not channel_ids:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
        with self._translate():
            return self._readings_many(
                [int(c) for c in channel_ids],
                EARLIEST_US if start_us is None else start_us,
                LATEST_US if end_us is None else end_us,
            )

    @abc.abstractmethod
    def _readings_many(
        self, channel_ids: list[int], start_us: int, end_us: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]: ...

    def latest(self, site_id: int) -> list[tuple[str, int, float]]:
        """The newest reading of every channel of a site: (code, time µs, value), one query."""
        with self._translate(), self.engine.connect() as conn:
            rows = conn.exec_driver_sql(self._LATEST, (site_id,)).all()
        return [(str(code), int(time_us), float(value)) for code, time_us, value in rows]

    #: One query for the newest reading per channel (backend SQL; ``%s``/``?`` placeholders).
    _LATEST: str

    def flagged_latest(self, site_id: int) -> set[str]:
        """Codes of the channels whose newest reading carries an active flag (one query)."""
        with self._translate(), self.engine.connect() as conn:
            rows = conn.exec_driver_sql(self._FLAGGED_LATEST, (site_id,)).all()
        return {str(code) for (code,) in rows}

    #: One query for :meth:`flagged_latest` (backend SQL).
    _FLAGGED_LATEST: str

    @abc.abstractmethod
    def reading_counts(self, site_id: int) -> dict[str, Any]:
        """Readings per instrument type, and the total, first and last time (µs)."""

    # -- rejections ------------------------------------------------------------------------------

    def write_rejections(self, site_id: int, rejections: Sequence[Rejection]) -> None:
        """Keep rejected rows with their source, line, raw text and reason (one statement).

        A row already kept (same source, line, channel and text) is not kept twice. Whatever a
        rejection holds can be stored: every text is cut to its column's size (the raw text to
        :data:`MAX_RAW_TEXT`, the channel to :data:`MAX_CODE`), and characters no database
        takes (NUL, a lone surrogate) are written as escapes.
        """
        if not rejections:
            return
        now = dt.datetime.now(dt.UTC)
        rows = [
            {
                "site_id": site_id,
                "received_at": now,
                "source": storable_text(r.source, MAX_SOURCE_TEXT),
                "line": r.line if r.line is not None and 0 <= r.line <= MAX_LINE else None,
                "channel": None if r.channel is None else storable_text(r.channel, MAX_CODE),
                "raw": storable_text(r.raw, MAX_RAW_TEXT),
                "reason": storable_text(r.reason, MAX_REASON_TEXT),
                "reason_key": r.reason_key,
                "reason_params": None if r.reason_params is None else _storable(r.reason_params),
            }
            for r in rejections
        ]
        insert = (
            sa.dialects.postgresql.insert
            if self.engine.dialect.name == "postgresql"
            else sa.dialects.sqlite.insert
        )
        statement = insert(schema.rejected).on_conflict_do_nothing()
        with self._translate(), self.engine.begin() as conn:
            conn.execute(statement, rows)

    def rejections(
        self, site_id: int, *, limit: int = 100, offset: int = 0
    ) -> list[StoredRejection]:
        """Rejected rows, newest first."""
        t = schema.rejected
        query = (
            sa.select(t.c.id, t.c.received_at, t.c.source, t.c.line, t.c.channel, t.c.raw,
                      t.c.reason, t.c.reason_key, t.c.reason_params)
            .where(t.c.site_id == site_id)
            .order_by(t.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self._translate(), self.engine.connect() as conn:
            return [StoredRejection(*row) for row in conn.execute(query)]

    def rejection_count(self, site_id: int) -> int:
        """How many rejected rows the site has."""
        t = schema.rejected
        with self._translate(), self.engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(t).where(t.c.site_id == site_id)
            return int(conn.scalar(query) or 0)


def storable_text(text: str, limit: int) -> str:
    r"""``text`` as any backend stores it: at most ``limit`` characters, NUL written ``\x00``.

    Characters UTF-8 cannot carry (lone surrogates, from bytes decoded with
    ``surrogateescape``) are written as backslash escapes too.

    >>> storable_text("a\x00b" + "c" * 10, 6)
    'a\\x00b'
    """
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    text = text[:limit]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")[:limit]
    return text


def _storable(value: Any) -> Any:
    """A message's JSON parameters with every text made storable (:func:`storable_text`)."""
    if isinstance(value, str):
        return storable_text(value, MAX_REASON_TEXT)
    if isinstance(value, dict):
        return {str(k)[:64]: _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # not JSON; the reason then shows its stored text
    return value


def summarise_counts(rows: Sequence[Any]) -> dict[str, Any]:
    """Fold (type, count, first µs, last µs) rows into the status summary."""
    by_type = {row[0]: int(row[1]) for row in rows}
    firsts = [int(row[2]) for row in rows if row[2] is not None]
    lasts = [int(row[3]) for row in rows if row[3] is not None]
    return {
        "readings": sum(by_type.values()),
        "by_type": by_type,
        "first_us": min(firsts) if firsts else None,
        "last_us": max(lasts) if lasts else None,
    }

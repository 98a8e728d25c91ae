"""The embedded backend: one SQLite file in WAL mode, readings in a ``WITHOUT ROWID`` table."""

from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray

from shuian.readings import ReadingBatch
from shuian.store.base import Store, summarise_counts

INSERT_READINGS = "INSERT OR IGNORE INTO readings (channel_id, time, value, raw) VALUES (?,?,?,?)"

COUNTS = """
SELECT i.type, count(*), min(r.time), max(r.time)
FROM readings r JOIN channels c ON c.id = r.channel_id JOIN instruments i ON i.id = c.instrument_id
WHERE c.site_id = ? GROUP BY i.type
"""


def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class SqliteStore(Store):
    """SQLite store (``sqlite:///path.db``): zero set-up, one writer at a time."""

    _LATEST = """
        SELECT c.code, r.time, r.value FROM channels c
        JOIN readings r ON r.channel_id = c.id
         AND r.time = (SELECT max(time) FROM readings WHERE channel_id = c.id)
        WHERE c.site_id = ? ORDER BY c.code
    """
    _FLAGGED_LATEST = """
        SELECT DISTINCT c.code FROM channels c
        JOIN flags f ON f.channel_id = c.id AND f.active
        WHERE c.site_id = ?
          AND f.time_us = (SELECT max(time) FROM readings WHERE channel_id = c.id)
    """

    def __init__(self, url: str) -> None:
        engine = sa.create_engine(url)
        sa.event.listen(engine, "connect", _on_connect)
        super().__init__(engine, url)

    def _write_readings(self, batch: ReadingBatch) -> int:
        # SQLite stores a bound NaN as NULL, which is what a missing raw reading is.
        rows = list(
            zip(
                batch.channel_id.tolist(),
                batch.time_us.tolist(),
                batch.value.tolist(),
                batch.raw.tolist(),
                strict=True,
            )
        )
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.executemany(INSERT_READINGS, rows)
            inserted = cursor.rowcount
            connection.commit()
        finally:
            connection.close()
        return int(inserted)

    def _readings(
        self, channel_id: int, start_us: int, end_us: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        connection = self.engine.raw_connection()
        try:
            rows = connection.cursor().execute(
                "SELECT time, value FROM readings WHERE channel_id = ? AND time >= ? AND time < ?"
                " ORDER BY time",
                (channel_id, start_us, end_us),
            ).fetchall()
        finally:
            connection.close()
        table = np.array(rows, dtype=[("time", np.int64), ("value", np.float64)])
        return table["time"].copy(), table["value"].copy()

    def _readings_many(
        self, channel_ids: list[int], start_us: int, end_us: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        marks = ",".join("?" * len(channel_ids))
        connection = self.engine.raw_connection()
        try:
            rows = connection.cursor().execute(
                f"SELECT channel_id, time, value FROM readings WHERE channel_id IN ({marks})"
                " AND time >= ? AND time < ? ORDER BY channel_id, time",
                (*channel_ids, start_us, end_us),
            ).fetchall()
        finally:
            connection.close()
        table = np.array(
            rows, dtype=[("channel", np.int64), ("time", np.int64), ("value", np.float64)]
        )
        return table["channel"].copy(), table["time"].copy(), table["value"].copy()

    def reading_counts(self, site_id: int) -> dict[str, Any]:
        """Readings per instrument type, and the total, first and last time (µs)."""
        with self._translate(), self.engine.connect() as conn:
            rows = conn.exec_driver_sql(COUNTS, (site_id,)).all()
        return summarise_counts(rows)


"""The server backend: PostgreSQL, readings in a yearly-partitioned table, bulk I/O by binary COPY.

Binary COPY rows are laid out with NumPy structured arrays (big-endian fields, PostgreSQL's
``COPY ... (FORMAT BINARY)`` layout), so a batch of millions of readings is encoded and decoded
without a Python loop per reading.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg
import sqlalchemy as sa
from numpy.typing import NDArray

from shuian.errors import StoreRefusedError
from shuian.readings import ReadingBatch
from shuian.store.base import Store, summarise_counts

#: Binary COPY header: signature, flags, header-extension length (PostgreSQL docs, "COPY").
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
COPY_TRAILER = b"\xff\xff"
#: The years readings may have, one partition each when first needed (validation keeps readings
#: inside a site's earliest date, at least 1800, and its future allowance).
FIRST_YEAR = 1800
LAST_YEAR = 2999
#: Advisory lock key held while partitions are created (any fixed 64-bit number).
PARTITION_LOCK = 0x5348_5549_414E_0001
#: PostgreSQL timestamps count microseconds from 2000-01-01 UTC.
PG_EPOCH_US = 946_684_800_000_000

_ROW_WITH_RAW = np.dtype(
    [("fields", ">i2"), ("len_channel", ">i4"), ("channel", ">i4"), ("len_time", ">i4"),
     ("time", ">i8"), ("len_value", ">i4"), ("value", ">f8"), ("len_raw", ">i4"), ("raw", ">f8")]
)
_ROW_WITHOUT_RAW = np.dtype(
    [("fields", ">i2"), ("len_channel", ">i4"), ("channel", ">i4"), ("len_time", ">i4"),
     ("time", ">i8"), ("len_value", ">i4"), ("value", ">f8"), ("len_raw", ">i4")]
)
_CHANNEL_TIME_VALUE_ROW = np.dtype(
    [("fields", ">i2"), ("len_channel", ">i4"), ("channel", ">i4"), ("len_time", ">i4"),
     ("time", ">i8"), ("len_value", ">i4"), ("value", ">f8")]
)
_TIME_VALUE_ROW = np.dtype(
    [("fields", ">i2"), ("len_time", ">i4"), ("time", ">i8"), ("len_value", ">i4"),
     ("value", ">f8")]
)

COPY_IN = "COPY {table} (channel_id, time, value, raw) FROM STDIN (FORMAT BINARY)"
COPY_OUT = (
    "COPY (SELECT time, value FROM readings WHERE channel_id = {channel}"
    " AND time >= 'epoch'::timestamptz + {start} * interval '1 microsecond'"
    " AND time < 'epoch'::timestamptz + {end} * interval '1 microsecond'"
    " ORDER BY time) TO STDOUT (FORMAT BINARY)"
)
COPY_OUT_MANY = (
    "COPY (SELECT channel_id, time, value FROM readings WHERE channel_id IN ({channels})"
    " AND time >= 'epoch'::timestamptz + {start} * interval '1 microsecond'"
    " AND time < 'epoch'::timestamptz + {end} * interval '1 microsecond'"
    " ORDER BY channel_id, time) TO STDOUT (FORMAT BINARY)"
)
COUNTS = """
SELECT i.type, count(*),
       (extract(epoch FROM min(r.time)) * 1000000)::bigint,
       (extract(epoch FROM max(r.time)) * 1000000)::bigint
FROM readings r JOIN channels c ON c.id = r.channel_id JOIN instruments i ON i.id = c.instrument_id
WHERE c.site_id = %s GROUP BY i.type
"""


def encode_copy(batch: ReadingBatch) -> bytes:
    """Encode a batch as PostgreSQL binary COPY data for (channel_id, time, value, raw)."""
    has_raw = ~np.isnan(batch.raw)
    parts = [COPY_HEADER]
    for mask, dtype in ((has_raw, _ROW_WITH_RAW), (~has_raw, _ROW_WITHOUT_RAW)):
        n = int(mask.sum())
        if n == 0:
            continue
        rows = np.empty(n, dtype=dtype)
        rows["fields"] = 4
        rows["len_channel"] = 4
        rows["channel"] = batch.channel_id[mask]
        rows["len_time"] = 8
        rows["time"] = batch.time_us[mask] - PG_EPOCH_US
        rows["len_value"] = 8
        rows["value"] = batch.value[mask]
        if dtype is _ROW_WITH_RAW:
            rows["len_raw"] = 8
            rows["raw"] = batch.raw[mask]
        else:
            rows["len_raw"] = -1  # NULL
        parts.append(rows.tobytes())
    parts.append(COPY_TRAILER)
    return b"".join(parts)


def decode_time_value_copy(data: bytes) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Decode binary COPY output of (timestamptz, float8 NOT NULL) rows into arrays."""
    body = data[len(COPY_HEADER) : len(data) - len(COPY_TRAILER)]
    rows = np.frombuffer(body, dtype=_TIME_VALUE_ROW)
    times = rows["time"].astype(np.int64) + PG_EPOCH_US
    return times, rows["value"].astype(np.float64)


class PostgresStore(Store):
    """PostgreSQL store (``postgresql://user@host/db``) for a server and many reservoirs."""

    _LATEST = """
        SELECT c.code, (extract(epoch FROM r.time) * 1000000)::bigint, r.value FROM channels c
        CROSS JOIN LATERAL (
            SELECT time, value FROM readings WHERE channel_id = c.id ORDER BY time DESC LIMIT 1
        ) r
        WHERE c.site_id = %s ORDER BY c.code
    """
    _FLAGGED_LATEST = """
        SELECT DISTINCT c.code FROM channels c
        JOIN flags f ON f.channel_id = c.id AND f.active
        WHERE c.site_id = %s AND f.time_us = (
            SELECT (extract(epoch FROM max(time)) * 1000000)::bigint
            FROM readings WHERE channel_id = c.id
        )
    """

    def __init__(self, url: str) -> None:
        super().__init__(sa.create_engine(url, pool_pre_ping=True), url)
        self._partitions: set[int] = set()

    def _write_readings(self, batch: ReadingBatch) -> int:
        data = encode_copy(batch)
        connection = self.engine.raw_connection()
        try:
            pg: psycopg.Connection[Any] = connection.driver_connection  # type: ignore[assignment]
            self._ensure_partitions(pg, batch.time_us)
            with pg.cursor() as cursor:
                try:
                    with pg.transaction():  # optimistic: all new, one COPY straight in
                        with cursor.copy(COPY_IN.format(table="readings")) as copy:
                            copy.write(data)
                    return len(batch)
                except psycopg.errors.UniqueViolation:
                    pass  # some are stored already: stage them, then insert the new ones
                with pg.transaction():
                    cursor.execute(
                        "CREATE TEMP TABLE IF NOT EXISTS readings_stage"
                        " (channel_id integer, time timestamptz, value float8, raw float8)"
                        " ON COMMIT DELETE ROWS"
                    )
                    with cursor.copy(COPY_IN.format(table="readings_stage")) as copy:
                        copy.write(data)
                    cursor.execute(
                        "INSERT INTO readings SELECT DISTINCT ON (channel_id, time) *"
                        " FROM readings_stage ON CONFLICT DO NOTHING"
                    )
                    return int(cursor.rowcount)
        finally:
            connection.close()

    def _ensure_partitions(self, pg: psycopg.Connection[Any], time_us: NDArray[np.int64]) -> None:
        """Create the yearly partitions a batch needs, safely beside other writers.

        Only years in ``[FIRST_YEAR, LAST_YEAR]`` get one (validation keeps readings inside the
        site's supported range, which lies within); a batch reaching outside is refused whole
        before anything is written. Concurrent writers at a New Year are serialised by a
        transaction-scoped advisory lock, so ``IF NOT EXISTS`` is never raced.
        """
        years = np.unique(time_us.astype("datetime64[us]").astype("datetime64[Y]"))
        wanted = {int(y) + 1970 for y in years.astype(np.int64)} - self._partitions
        if not wanted:
            return
        outside = sorted(y for y in wanted if not FIRST_YEAR <= y <= LAST_YEAR)
        if outside:
            raise StoreRefusedError(
                f"database {self.url} refused the data: readings in year(s) "
                f"{', '.join(map(str, outside[:5]))} lie outside the supported years "
                f"{FIRST_YEAR}-{LAST_YEAR}"
            )
        with pg.transaction(), pg.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
            for year in sorted(wanted):
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS readings_y{year:04d} PARTITION OF readings"
                    f" FOR VALUES FROM ('{year:04d}-01-01 00:00+00')"
                    f" TO ('{year + 1:04d}-01-01 00:00+00')"
                )
        self._partitions |= wanted

    def _readings(
        self, channel_id: int, start_us: int, end_us: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        statement = COPY_OUT.format(channel=int(channel_id), start=int(start_us), end=int(end_us))
        data = self._copy_out(statement)
        if not data:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        return decode_time_value_copy(data)

    def _readings_many(
        self, channel_ids: list[int], start_us: int, end_us: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        statement = COPY_OUT_MANY.format(
            channels=",".join(str(int(c)) for c in channel_ids), start=int(start_us),
            end=int(end_us),
        )
        data = self._copy_out(statement)
        if not data:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
        body = data[len(COPY_HEADER) : len(data) - len(COPY_TRAILER)]
        rows = np.frombuffer(body, dtype=_CHANNEL_TIME_VALUE_ROW)
        return (
            rows["channel"].astype(np.int64),
            rows["time"].astype(np.int64) + PG_EPOCH_US,
            rows["value"].astype(np.float64),
        )

    def _copy_out(self, statement: str) -> bytes:
        connection = self.engine.raw_connection()
        try:
            pg: psycopg.Connection[Any] = connection.driver_connection  # type: ignore[assignment]
            with pg.cursor() as cursor, cursor.copy(statement) as copy:
                data = b"".join(bytes(block) for block in copy)
            pg.commit()
        finally:
            connection.close()
        return data

    def reading_counts(self, site_id: int) -> dict[str, Any]:
        """Readings per instrument type, and the total, first and last time (µs)."""
        with self._translate(), self.engine.connect() as conn:
            rows = conn.exec_driver_sql(COUNTS, (site_id,)).all()
        return summarise_counts(rows)

"""Ids the API takes are 64-bit on PostgreSQL; a rejection is kept once per channel too.

Ids: as on SQLite (INTEGER is 8 bytes there).

The API accepts ids up to 2^63 - 1 (alarms, flags, rejected rows, users, API keys ...); on
PostgreSQL they were ``integer`` (2^31 - 1), so a larger id in a request failed in the database
instead of answering 404, and a busy store would run out of them. Sites, instruments and
channels keep 32-bit ids (the API names them by code, and the readings table stores the channel
id in every row).

"Kept once" compared the source, line and text of a rejected row: a TOA5 line with two bad
columns has one text and one line, so the second column's rejection was dropped. The channel is
now part of the key.

Partitions: readings of year 1 (a logger clock never set) made a partition named readings_y1
whose bounds PostgreSQL read as 2001-01-01 to 2001-02-01, so the partition for 2001 could never
be made again and every 2001 batch failed. Such partitions (a name of fewer than four digits)
are detached, their readings moved into partitions named by their real years, and dropped.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: (table, columns): every id and reference to one that the API can name.
WIDE = (
    ("rejected", ("id",)),
    ("flags", ("id",)),
    ("flag_events", ("id", "flag_id")),
    ("models", ("id",)),
    ("alarms", ("id",)),
    ("alarm_events", ("id", "alarm_id")),
    ("deliveries", ("id",)),
    ("users", ("id",)),
    ("sessions", ("user_id",)),
    ("api_keys", ("id",)),
    ("login_failures", ("id",)),
    ("audit_log", ("id",)),
)


#: The "kept once" key of a rejected row, per backend (PostgreSQL compares a hash of the text).
KEPT_ONCE = {
    "postgresql": "site_id, source, coalesce(line, -1), coalesce(channel, ''), md5(raw)",
    "sqlite": "site_id, source, coalesce(line, -1), coalesce(channel, ''), raw",
}
KEPT_ONCE_BEFORE = {
    "postgresql": "site_id, source, coalesce(line, -1), md5(raw)",
    "sqlite": "site_id, source, coalesce(line, -1), raw",
}


def _kept_once(key: dict[str, str]) -> None:
    op.execute("DROP INDEX rejected_once")
    op.execute(f"CREATE UNIQUE INDEX rejected_once ON rejected ({key[op.get_bind().dialect.name]})")


def _repair_partitions() -> None:
    bind = op.get_bind()
    names = bind.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'readings'::regclass AND c.relname ~ '^readings_y[0-9]{1,3}$'"
    ).scalars().all()
    for name in names:
        op.execute(f"ALTER TABLE readings DETACH PARTITION {name}")
        years = bind.exec_driver_sql(
            f"SELECT DISTINCT extract(year FROM time AT TIME ZONE 'UTC')::int FROM {name}"
        ).scalars().all()
        for year in years:
            op.execute(
                f"CREATE TABLE IF NOT EXISTS readings_y{year:04d} PARTITION OF readings"
                f" FOR VALUES FROM ('{year:04d}-01-01 00:00+00')"
                f" TO ('{year + 1:04d}-01-01 00:00+00')"
            )
        op.execute(f"INSERT INTO readings SELECT * FROM {name} ON CONFLICT DO NOTHING")
        op.execute(f"DROP TABLE {name}")


def upgrade() -> None:
    _kept_once(KEPT_ONCE)
    if op.get_bind().dialect.name != "postgresql":
        return
    _repair_partitions()
    for table, columns in WIDE:
        changes = ", ".join(f"ALTER COLUMN {column} TYPE bigint" for column in columns)
        op.execute(f"ALTER TABLE {table} {changes}")
        if "id" in columns:
            op.execute(f"ALTER SEQUENCE IF EXISTS {table}_id_seq AS bigint")


def downgrade() -> None:
    _kept_once(KEPT_ONCE_BEFORE)
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in WIDE:
        if "id" in columns:
            op.execute(f"ALTER SEQUENCE IF EXISTS {table}_id_seq AS integer")
        changes = ", ".join(f"ALTER COLUMN {column} TYPE integer" for column in columns)
        op.execute(f"ALTER TABLE {table} {changes}")

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


def upgrade() -> None:
    _kept_once(KEPT_ONCE)
    if op.get_bind().dialect.name != "postgresql":
        return
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

"""Rejected rows keep their whole text: "kept once" compares a hash of it on PostgreSQL.

A btree index entry of PostgreSQL holds at most about 2,700 bytes, so an index on the raw text
itself capped what a rejection could keep. A rejected telemetry frame (up to about 8,000 hex
characters) or picture is now kept whole.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX rejected_once")
        op.execute(
            "CREATE UNIQUE INDEX rejected_once"
            " ON rejected (site_id, source, coalesce(line, -1), md5(raw))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX rejected_once")
        op.execute(
            "CREATE UNIQUE INDEX rejected_once"
            " ON rejected (site_id, source, coalesce(line, -1), left(raw, 2000))"
        )

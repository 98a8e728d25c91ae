"""The notification outbox: messages kept by the analysis, sent later by a delivery loop.

An alarm's notification was sent inside the analysis of an ingest, so a webhook that did not
answer held the ingest's commit (and every acknowledgement behind it) for its timeout times its
retries. The analysis now keeps one row per message and notifier here; a delivery loop claims
due rows with a lease, sends them and keeps the result.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: 64-bit ids (SQLite's INTEGER primary key is the 64-bit rowid already).
WIDE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", WIDE_ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("notifier", sa.String(64), nullable=False),
        sa.Column("event", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_try_us", sa.BigInteger, nullable=False),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("lease_until_us", sa.BigInteger),
        sa.Column("last_error", sa.Text),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("done_us", sa.BigInteger),
        sa.UniqueConstraint("key", "notifier", name="outbox_once"),
    )
    op.create_index("outbox_due", "outbox", ["state", "next_try_us"])


def downgrade() -> None:
    op.drop_table("outbox")

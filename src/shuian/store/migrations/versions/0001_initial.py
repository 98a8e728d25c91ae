"""Initial schema: sites, instruments, channels, readings, rejected.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_zh", sa.Text, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("synthetic", sa.Boolean, nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "instruments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("section", sa.String(64)),
        sa.Column("elevation", sa.Float),
        sa.Column("chainage", sa.Float),
        sa.Column("installed", sa.Date),
        sa.Column("manual", sa.Boolean, nullable=False),
        sa.UniqueConstraint("site_id", "code"),
    )
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("instrument_id", sa.Integer, sa.ForeignKey("instruments.id"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("quantity", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("limit_min", sa.Float),
        sa.Column("limit_max", sa.Float),
        sa.Column("conversion", sa.JSON, nullable=False),
        sa.UniqueConstraint("site_id", "code"),
    )
    op.create_table(
        "rejected",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("line", sa.Integer),
        sa.Column("channel", sa.String(64)),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("rejected_by_site", "rejected", ["site_id", "id"])
    # The same rejected row ingested again (the same file twice) is kept once.
    # (A row without a line number counts as line -1, so it is not kept twice either.)
    op.execute(
        "CREATE UNIQUE INDEX rejected_once ON rejected (site_id, source, coalesce(line, -1), raw)"
    )
    if op.get_bind().dialect.name == "postgresql":
        # Yearly partitions are created on demand by the store before each bulk load.
        op.execute(
            "CREATE TABLE readings ("
            " channel_id integer NOT NULL REFERENCES channels(id),"
            " time timestamptz NOT NULL,"
            " value double precision NOT NULL,"
            " raw double precision,"
            " PRIMARY KEY (channel_id, time)"
            ") PARTITION BY RANGE (time)"
        )
    else:
        op.execute(
            "CREATE TABLE readings ("
            " channel_id INTEGER NOT NULL REFERENCES channels(id),"
            " time INTEGER NOT NULL,"  # microseconds since 1970-01-01 UTC
            " value REAL NOT NULL,"
            " raw REAL,"
            " PRIMARY KEY (channel_id, time)"
            ") WITHOUT ROWID"
        )


def downgrade() -> None:
    for table in ("readings", "rejected", "channels", "instruments", "sites"):
        op.drop_table(table)

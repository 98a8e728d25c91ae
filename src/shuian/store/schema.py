"""Tables of the store, as SQLAlchemy Core metadata shared by both backends.

The readings table differs by backend (an INTEGER of microseconds in a ``WITHOUT ROWID`` table on
SQLite, a ``timestamptz`` in a yearly-partitioned table on PostgreSQL), so it is created by the
migration with backend DDL and described here only for reading.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

sites = sa.Table(
    "sites",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_zh", sa.Text, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("synthetic", sa.Boolean, nullable=False),
    sa.Column("definition", sa.Text, nullable=False),  # the site file's YAML text
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

instruments = sa.Table(
    "instruments",
    metadata,
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

channels = sa.Table(
    "channels",
    metadata,
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

rejected = sa.Table(
    "rejected",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("line", sa.Integer),
    sa.Column("channel", sa.String(64)),
    sa.Column("raw", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    # Unique index rejected_once (site_id, source, coalesce(line, -1), raw): see migration 0001.
)

"""Analysis: data-check flags with their history, fitted model versions, alarms with their
lifecycle, and the notification delivery log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flags",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel_id", sa.Integer, sa.ForeignKey("channels.id"), nullable=False),
        sa.Column("time_us", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),  # check | manual
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("set_by", sa.String(64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("channel_id", "time_us", "kind"),
    )
    op.create_index("flags_by_channel_time", "flags", ["channel_id", "time_us"])
    op.create_table(
        "flag_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("flag_id", sa.Integer, sa.ForeignKey("flags.id"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),  # set | cleared
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel_id", sa.Integer, sa.ForeignKey("channels.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("r2", sa.Float, nullable=False),
        sa.Column("sigma", sa.Float, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("window_start_us", sa.BigInteger, nullable=False),
        sa.Column("window_end_us", sa.BigInteger, nullable=False),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fit", sa.JSON, nullable=False),  # terms, coefficients, normalisation
        sa.UniqueConstraint("channel_id", "version"),
    )
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel_id", sa.Integer, sa.ForeignKey("channels.id"), nullable=False),
        sa.Column("rule", sa.String(16), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("peak_level", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),  # raised | acknowledged | cleared
        sa.Column("raised_us", sa.BigInteger, nullable=False),
        sa.Column("last_us", sa.BigInteger, nullable=False),
        sa.Column("cleared_us", sa.BigInteger),
        sa.Column("value", sa.Float),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("acknowledged_by", sa.String(64)),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
        sa.Column("acknowledge_comment", sa.Text),
    )
    # One open alarm per channel and rule (partial unique index: SQLite and PostgreSQL).
    op.create_index(
        "alarms_one_open",
        "alarms",
        ["channel_id", "rule"],
        unique=True,
        sqlite_where=sa.text("state != 'cleared'"),
        postgresql_where=sa.text("state != 'cleared'"),
    )
    op.create_table(
        "alarm_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alarm_id", sa.Integer, sa.ForeignKey("alarms.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("time_us", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("actor", sa.String(64)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("alarm_events_by_alarm", "alarm_events", ["alarm_id", "id"])
    # How far each channel's readings have been judged by the alarm rules (µs).
    op.create_table(
        "evaluated",
        sa.Column("channel_id", sa.Integer, sa.ForeignKey("channels.id"), primary_key=True),
        sa.Column("until_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("notifier", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("time_us", sa.BigInteger, nullable=False),
    )
    op.create_index("deliveries_by_key", "deliveries", ["key", "notifier"])


def downgrade() -> None:
    tables = ("deliveries", "evaluated", "alarm_events", "alarms", "models", "flag_events",
              "flags")
    for table in tables:
        op.drop_table(table)

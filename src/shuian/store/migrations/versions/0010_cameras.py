"""Cameras: each camera's status as its watcher last saw it, and the frames kept with alarms.

``camera_status`` holds one row per camera of a site: the status of its feed (connected,
frames/s, last frame, dropped, last error) as JSON, and when a watcher last wrote it, so that
the API and the dashboard show it whichever process watches the cameras.

``alarm_media`` links an alarm to the media objects kept with it (the annotated frame with the
zone drawn, the frames before, at and after the event).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: 64-bit ids (SQLite's INTEGER primary key is the 64-bit rowid already).
WIDE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "camera_status",
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), primary_key=True),
        sa.Column("camera", sa.String(48), primary_key=True),
        sa.Column("status", sa.JSON, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "alarm_media",
        sa.Column("alarm_id", WIDE_ID, sa.ForeignKey("alarms.id"), primary_key=True),
        sa.Column("media_id", WIDE_ID, sa.ForeignKey("media.id"), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
    )
    op.create_index("alarm_media_of_media", "alarm_media", ["media_id"])


def downgrade() -> None:
    op.drop_table("alarm_media")
    op.drop_table("camera_status")

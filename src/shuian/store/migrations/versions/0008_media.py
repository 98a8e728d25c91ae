"""Media: the metadata of binary objects (images, pictures, reports) kept as files.

The bytes are files under the media folder, named by their SHA-256 (``shuian.media.files``);
each row says which file, of which site, from which source, taken when, kept since when, its
size, type and retention class.

Revision ID: 0008
Revises: 0006 (the lead rechains it after 0007)
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: 64-bit ids (SQLite's INTEGER primary key is the 64-bit rowid already).
WIDE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", WIDE_ID, primary_key=True, autoincrement=True),
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("taken_us", sa.BigInteger, nullable=False),
        sa.Column("stored_us", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.String(80), nullable=False),
        sa.Column("retention", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.UniqueConstraint("site_id", "source", "sha256", "taken_us", name="media_once"),
    )
    op.create_index("media_listed", "media", ["site_id", "taken_us"])
    op.create_index("media_file", "media", ["sha256"])
    op.create_index("media_aging", "media", ["retention", "stored_us"])


def downgrade() -> None:
    op.drop_table("media")

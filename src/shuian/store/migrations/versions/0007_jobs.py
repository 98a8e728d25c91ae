"""The jobs of the background worker: periodic and one-off work, claimed with a lease.

Notification delivery, no-data scans and model refits ran in threads and tasks of whichever
process served the API, and nothing kept two processes from running the same one at once. Each
job is now a row here; a worker claims a due job with a lease (one conditional UPDATE), renews
the lease while the job runs, and keeps how it ended.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: 64-bit ids (SQLite's INTEGER primary key is the 64-bit rowid already).
WIDE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", WIDE_ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON),
        sa.Column("period_s", sa.Float),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("next_run_us", sa.BigInteger, nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until_us", sa.BigInteger),
        sa.Column("runs", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_start_us", sa.BigInteger),
        sa.Column("last_end_us", sa.BigInteger),
        sa.Column("last_error", sa.Text),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("name", name="jobs_name"),
    )
    op.create_index("jobs_due", "jobs", ["state", "next_run_us"])


def downgrade() -> None:
    op.drop_table("jobs")

"""Sentences kept with their catalogue key: shown in the reader's language, not only English.

Alarm messages (alarms, alarm_events), data-check flag details (flags) and rejected rows'
reasons (rejected) keep their English text column as it was (older rows, grep, CSV exports)
and gain the sentence's catalogue key and parameters beside it (``shuian.i18n``), so the API
renders them in English or Chinese. Rows kept before have no key and show their text. The
outbox keeps the key inside its ``event`` JSON, so it needs no column.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: (table, text column) pairs that gain ``{column}_key`` and ``{column}_params``.
COLUMNS = (
    ("alarms", "message"),
    ("alarm_events", "message"),
    ("flags", "detail"),
    ("rejected", "reason"),
)


def upgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(f"{column}_key", sa.String(64), nullable=True))
            batch.add_column(sa.Column(f"{column}_params", sa.JSON, nullable=True))


def downgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column(f"{column}_params")
            batch.drop_column(f"{column}_key")

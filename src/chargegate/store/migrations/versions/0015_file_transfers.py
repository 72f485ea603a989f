"""What a charger last reported of a firmware update and of a diagnostics upload, and when

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-06 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chargers") as batch:
        batch.add_column(sa.Column("firmware_status", sa.String(32), nullable=True))
        batch.add_column(sa.Column("firmware_status_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("diagnostics_status", sa.String(32), nullable=True))
        batch.add_column(sa.Column("diagnostics_status_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chargers") as batch:
        for column in (
            "diagnostics_status_at",
            "diagnostics_status",
            "firmware_status_at",
            "firmware_status",
        ):
            batch.drop_column(column)

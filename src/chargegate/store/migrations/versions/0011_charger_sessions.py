"""Sessions begun at the charger: what the charger was told of their token, and its stop reason

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Transactions begun at a charger before this have no verdict: what they were told is not
    # known, so they stay out of the API as they were.
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("start_verdict", sa.String(16), nullable=True))
        batch.add_column(sa.Column("charger_stop_reason", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.drop_column("charger_stop_reason")
        batch.drop_column("start_verdict")

"""Stops that did not take: their state, next attempt, failed attempts and last error

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("stop_state", sa.String(16), nullable=True))
        batch.add_column(sa.Column("stop_retry_at", sa.DateTime(), nullable=True))
        batch.add_column(
            sa.Column("stop_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("stop_error", sa.Text(), nullable=True))
        batch.create_index("ix_transactions_stop_retry_at", ["stop_retry_at"])
    # A stop already under way when this runs is followed like a new one.
    op.execute(
        "UPDATE transactions SET stop_state = 'requested', stop_retry_at = stop_requested_at "
        "WHERE state = 'Open' AND stop_requested_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.drop_index("ix_transactions_stop_retry_at")
        batch.drop_column("stop_error")
        batch.drop_column("stop_attempts")
        batch.drop_column("stop_retry_at")
        batch.drop_column("stop_state")

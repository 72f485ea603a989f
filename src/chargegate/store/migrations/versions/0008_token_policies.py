"""Token policies: each operator's answer to a token already in a live session, to the running
sessions of a token it blocks, and whether blocking clears its chargers' caches; and a
charger's own answer to unknown tokens, over its operator's

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.add_column(
            sa.Column("concurrent_tx", sa.String(8), nullable=False, server_default="token")
        )
        batch.add_column(
            sa.Column("blocked_sessions", sa.String(8), nullable=False, server_default="continue")
        )
        batch.add_column(
            sa.Column(
                "clear_cache_on_block", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )
    with op.batch_alter_table("chargers") as batch:
        batch.add_column(sa.Column("unknown_tokens", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chargers") as batch:
        batch.drop_column("unknown_tokens")
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("clear_cache_on_block")
        batch.drop_column("blocked_sessions")
        batch.drop_column("concurrent_tx")

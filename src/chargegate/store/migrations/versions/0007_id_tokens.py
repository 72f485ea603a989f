"""ID tokens: the operator's cards, answered to chargers from this registry, and each
operator's answer to the cards it does not have

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.add_column(
            sa.Column("unknown_tokens", sa.String(8), nullable=False, server_default="reject")
        )
    op.create_table(
        "id_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("operators.id"), nullable=False),
        sa.Column("staging", sa.Boolean(), nullable=False),
        sa.Column("id_tag", sa.String(36), nullable=False),
        sa.Column("id_tag_folded", sa.String(36), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("parent_id_tag", sa.String(36), nullable=True),
        sa.Column("note", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint(
            "operator_id",
            "staging",
            "id_tag_folded",
            name="uq_id_tokens_operator_id_staging_id_tag_folded",
        ),
    )


def downgrade() -> None:
    op.drop_table("id_tokens")
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("unknown_tokens")

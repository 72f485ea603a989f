"""Local authorization lists: each charger's sync state and the entries it holds by our last
accepted SendLocalList; command actions up to 32 characters (get_local_list_version)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("commands") as batch:
        batch.alter_column(
            "action", existing_type=sa.String(16), type_=sa.String(32), existing_nullable=False
        )
    op.create_table(
        "local_lists",
        sa.Column("charger_id", sa.Integer(), sa.ForeignKey("chargers.id"), primary_key=True),
        sa.Column("supported", sa.Boolean(), nullable=False),
        sa.Column("per_message", sa.Integer(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("charger_version", sa.Integer(), nullable=True),
        sa.Column("full_needed", sa.Boolean(), nullable=False),
        sa.Column("resends", sa.Integer(), nullable=False),
        sa.Column("last_synced_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_table(
        "local_list_entries",
        sa.Column("charger_id", sa.Integer(), sa.ForeignKey("chargers.id"), primary_key=True),
        sa.Column("id_tag_folded", sa.String(36), primary_key=True),
        sa.Column("id_tag", sa.String(36), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("parent_id_tag", sa.String(36), nullable=True),
        sa.Column("parent_type", sa.String(20), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("local_list_entries")
    op.drop_table("local_lists")
    op.execute("DELETE FROM commands WHERE action IN ('get_local_list_version', 'send_local_list')")
    with op.batch_alter_table("commands") as batch:
        batch.alter_column(
            "action", existing_type=sa.String(32), type_=sa.String(16), existing_nullable=False
        )

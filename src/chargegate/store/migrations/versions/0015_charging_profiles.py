"""Charging profiles chargegate set on chargers (re-sent after a reboot), and a start's limit

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "charging_profiles",
        sa.Column("charger_id", sa.Integer(), sa.ForeignKey("chargers.id"), primary_key=True),
        sa.Column("profile_id", sa.Integer(), primary_key=True),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("stack_level", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("set_at", sa.DateTime(), nullable=False),
    )
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("limit_unit", sa.String(1), nullable=True))
        batch.add_column(sa.Column("limit_value", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.drop_column("limit_value")
        batch.drop_column("limit_unit")
    op.drop_table("charging_profiles")

"""A charger's configuration as last read, and the parts of a 2.0.1 report still coming

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-06 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "configuration_keys",
        sa.Column("charger_id", sa.Integer(), sa.ForeignKey("chargers.id"), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("readonly", sa.Boolean(), nullable=True),
        sa.Column("read_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "report_parts",
        sa.Column("command_id", sa.Integer(), sa.ForeignKey("commands.id"), primary_key=True),
        sa.Column("seq_no", sa.Integer(), primary_key=True),
        sa.Column("tbc", sa.Boolean(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("report_parts")
    op.drop_table("configuration_keys")

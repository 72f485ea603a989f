"""Reservations: a port (or a charger) held for a token, and the outbox commands for them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("reservation_uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("operators.id"), nullable=False),
        sa.Column("charger_id", sa.Integer(), sa.ForeignKey("chargers.id"), nullable=False),
        sa.Column("port_uuid", sa.String(36), sa.ForeignKey("ports.port_uuid"), nullable=True),
        sa.Column("staging", sa.Boolean(), nullable=False),
        sa.Column("id_tag", sa.String(36), nullable=False),
        sa.Column("parent_id_tag", sa.String(36), nullable=True),
        sa.Column("token_type", sa.String(20), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column(
            "transaction_uuid",
            sa.String(36),
            sa.ForeignKey("transactions.transaction_uuid"),
            nullable=True,
        ),
    )
    for column in ("operator_id", "charger_id", "port_uuid", "expires_at", "state"):
        op.create_index(f"ix_reservations_{column}", "reservations", [column])
    with op.batch_alter_table("commands") as batch:
        batch.add_column(sa.Column("reservation_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_commands_reservation_id", "reservations", ["reservation_id"], ["id"]
        )
        batch.create_index("ix_commands_reservation_id", ["reservation_id"])


def downgrade() -> None:
    with op.batch_alter_table("commands") as batch:
        batch.drop_index("ix_commands_reservation_id")
        batch.drop_constraint("fk_commands_reservation_id", type_="foreignkey")
        batch.drop_column("reservation_id")
    op.drop_table("reservations")

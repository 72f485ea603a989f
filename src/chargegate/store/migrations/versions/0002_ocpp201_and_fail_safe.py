"""OCPP 2.0.1 transactions, charger-begun sessions, smart charging and in-doubt commands

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0001 left the idTag unique constraint unnamed; this names it the way each database did.
_SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _id_tag_unique_name() -> str:
    if op.get_bind().dialect.name == "postgresql":
        return "transactions_id_tag_key"
    return "uq_transactions_id_tag"


def upgrade() -> None:
    with op.batch_alter_table("chargers") as batch:
        batch.add_column(sa.Column("ocpp_protocol", sa.String(16), nullable=True))
        batch.add_column(sa.Column("smart_charging", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("connected_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("transactions", naming_convention=_SQLITE_NAMES) as batch:
        batch.drop_constraint(_id_tag_unique_name(), type_="unique")
        batch.alter_column("id_tag", type_=sa.String(36), existing_nullable=False)
        batch.add_column(sa.Column("origin", sa.String(8), nullable=False, server_default="api"))
        batch.add_column(sa.Column("charger_transaction_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("profile_until", sa.DateTime(), nullable=True))
        batch.create_index("ix_transactions_id_tag", ["id_tag"])
        batch.create_index("ix_transactions_charger_transaction_id", ["charger_transaction_id"])
    with op.batch_alter_table("commands") as batch:
        batch.add_column(
            sa.Column("in_doubt", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("commands") as batch:
        batch.drop_column("in_doubt")
    with op.batch_alter_table("transactions", naming_convention=_SQLITE_NAMES) as batch:
        batch.drop_index("ix_transactions_charger_transaction_id")
        batch.drop_index("ix_transactions_id_tag")
        batch.drop_column("profile_until")
        batch.drop_column("charger_transaction_id")
        batch.drop_column("origin")
        batch.alter_column("id_tag", type_=sa.String(20), existing_nullable=False)
        batch.create_unique_constraint(_id_tag_unique_name(), ["id_tag"])
    with op.batch_alter_table("chargers") as batch:
        batch.drop_column("connected_at")
        batch.drop_column("smart_charging")
        batch.drop_column("ocpp_protocol")

"""Commands on a charger or a port, outside any transaction, followed through a queue item

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("commands") as batch:
        batch.alter_column("transaction_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("connector_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("queue_uuid", sa.String(36), nullable=True))
        batch.create_index("ix_commands_queue_uuid", ["queue_uuid"])
        batch.create_foreign_key(
            "fk_commands_queue_uuid_queue_items", "queue_items", ["queue_uuid"], ["queue_uuid"]
        )
    with op.batch_alter_table("queue_items") as batch:
        batch.alter_column("transaction_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM commands WHERE transaction_id IS NULL")
    op.execute("DELETE FROM queue_items WHERE transaction_id IS NULL")
    with op.batch_alter_table("queue_items") as batch:
        batch.alter_column("transaction_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("commands") as batch:
        batch.drop_constraint("fk_commands_queue_uuid_queue_items", type_="foreignkey")
        batch.drop_index("ix_commands_queue_uuid")
        batch.drop_column("queue_uuid")
        batch.drop_column("connector_id")
        batch.alter_column("transaction_id", existing_type=sa.Integer(), nullable=False)

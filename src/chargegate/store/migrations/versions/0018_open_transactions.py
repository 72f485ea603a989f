"""The transactions open on a port, indexed by port

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "state = 'Open'"


def upgrade() -> None:
    op.create_index(
        "ix_transactions_open",
        "transactions",
        ["port_uuid"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_transactions_open", table_name="transactions")

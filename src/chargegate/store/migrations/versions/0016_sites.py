"""Sites and circuits: limits shared by the sessions under them, and a session's priority,
allocation and measured draw

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("site_uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("operators.id"), nullable=False),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("sites.id"), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("max_current_a", sa.Float(), nullable=True),
        sa.Column("max_power_w", sa.Float(), nullable=True),
        sa.Column("phases", sa.Integer(), nullable=False),
        sa.Column("voltage", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("balancer_node", sa.String(64), nullable=True),
        sa.Column("balancer_until", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_sites_operator_id", "sites", ["operator_id"])
    op.create_index("ix_sites_parent_id", "sites", ["parent_id"])
    op.create_table(
        "site_members",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("charger_id", sa.Integer(), sa.ForeignKey("chargers.id"), nullable=False),
        sa.Column(
            "port_uuid", sa.String(36), sa.ForeignKey("ports.port_uuid"), nullable=True, unique=True
        ),
    )
    op.create_index("ix_site_members_site_id", "site_members", ["site_id"])
    op.create_index("ix_site_members_charger_id", "site_members", ["charger_id"])
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("allocated_a", sa.Float(), nullable=True))
        batch.add_column(sa.Column("measured_current_a", sa.Float(), nullable=True))
        batch.add_column(sa.Column("measured_power_w", sa.Float(), nullable=True))
        batch.add_column(sa.Column("allocation_pending_a", sa.Float(), nullable=True))
        batch.add_column(sa.Column("allocation_command_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("allocation_until", sa.DateTime(), nullable=True))
    op.create_table(
        "site_allocations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("amps", sa.JSON(), nullable=False),
    )
    op.create_index("ix_site_allocations_site_id", "site_allocations", ["site_id"])


def downgrade() -> None:
    op.drop_table("site_allocations")
    with op.batch_alter_table("transactions") as batch:
        batch.drop_column("allocation_until")
        batch.drop_column("allocation_command_id")
        batch.drop_column("allocation_pending_a")
        batch.drop_column("measured_power_w")
        batch.drop_column("measured_current_a")
        batch.drop_column("allocated_a")
        batch.drop_column("priority")
    op.drop_table("site_members")
    op.drop_table("sites")

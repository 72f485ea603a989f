"""Operating a fleet through the API: what chargers say of themselves at boot and after it,
disabled and deleted chargers, removed ports, and the role of an API key

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-06 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chargers") as batch:
        batch.add_column(sa.Column("serial_number", sa.String(25), nullable=True))
        batch.add_column(sa.Column("firmware_version", sa.String(50), nullable=True))
        batch.add_column(sa.Column("feature_profiles", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("firmware_status", sa.String(32), nullable=True))
        batch.add_column(sa.Column("firmware_status_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("diagnostics_status", sa.String(32), nullable=True))
        batch.add_column(sa.Column("diagnostics_status_at", sa.DateTime(), nullable=True))
        batch.add_column(
            sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("ports") as batch:
        batch.add_column(sa.Column("removed_at", sa.DateTime(), nullable=True))
    # Every key made before roles could do everything: it stays so.
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(
            sa.Column("role", sa.String(16), server_default="operator", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("role")
    with op.batch_alter_table("ports") as batch:
        batch.drop_column("removed_at")
    with op.batch_alter_table("chargers") as batch:
        for column in (
            "deleted_at",
            "disabled",
            "diagnostics_status_at",
            "diagnostics_status",
            "firmware_status_at",
            "firmware_status",
            "feature_profiles",
            "firmware_version",
            "serial_number",
        ):
            batch.drop_column(column)

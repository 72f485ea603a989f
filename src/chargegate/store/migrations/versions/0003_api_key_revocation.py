"""API keys hashed with scrypt: a wider key_hash

Revision ID: 0003_api_key_revocation
Revises: 0002
Create Date: 2026-11-25 09:00:00

Revocation needs no new column: 0001 created `api_keys.revoked_at`, which `chargegate apikey
revoke` now sets. What changes is the hash: scrypt strings take about 180 characters where a
sha256 hex digest took 64. Old sha256 hashes stay valid and are rehashed on first use.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_api_key_revocation"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column(
            "key_hash", type_=sa.String(200), existing_type=sa.String(128), existing_nullable=False
        )


def downgrade() -> None:
    # scrypt hashes do not fit the old width: downgrade only before any key was created or used
    # under this revision.
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column(
            "key_hash", type_=sa.String(128), existing_type=sa.String(200), existing_nullable=False
        )

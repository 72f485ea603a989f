"""The migrations build the schema the models describe: a column, index or foreign key added to
one and not the other is found here, on the database of the pass (SQLite or PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from chargegate.store.database import create_engine
from chargegate.store.migrate import upgrade
from chargegate.store.models import Base
from support import POSTGRES_URL, fresh_postgres_database


async def test_migrations_match_the_models(tmp_path: Path) -> None:
    url = fresh_postgres_database() if POSTGRES_URL else f"sqlite+aiosqlite:///{tmp_path}/m.db"
    await upgrade(url)
    engine = create_engine(url)

    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with engine.connect() as connection:
            found = await connection.run_sync(differences)
    finally:
        await engine.dispose()
    assert found == []

"""The migrations build the schema the models describe: a column, index or foreign key added to
one and not the other is found here, on the database of the pass (SQLite or PostgreSQL). And
the state columns, typed as the domain's enums in the models, store the plain strings those
migrations' columns always held."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import StatementError

from chargegate.domain.states import (
    ChargerAction,
    CommandStatus,
    QueueKind,
    QueueStatus,
    TransactionAction,
)
from chargegate.store.database import create_engine
from chargegate.store.migrate import alembic_config, newest_revision, upgrade
from chargegate.store.models import Base, Charger, Command, Operator, QueueItem
from support import POSTGRES_URL, fresh_postgres_database


def differences(connection: Any) -> list[Any]:
    """What the database's schema and the models' disagree on."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def revision(connection: Any) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def test_migrations_match_the_models(tmp_path: Path) -> None:
    url = fresh_postgres_database() if POSTGRES_URL else f"sqlite+aiosqlite:///{tmp_path}/m.db"
    await upgrade(url)
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            found = await connection.run_sync(differences)
    finally:
        await engine.dispose()
    assert found == []


async def test_only_a_database_at_the_newest_migration_is_left_as_it_is(tmp_path: Path) -> None:
    """Every start migrates; it skips loading Alembic only where the database is at the head
    read from the migration files, which is Alembic's own. One left a migration behind (as the
    release before left it) is brought up to date."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None and newest_revision() == head
    url = fresh_postgres_database() if POSTGRES_URL else f"sqlite+aiosqlite:///{tmp_path}/o.db"
    await upgrade(url)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda c: command.downgrade(alembic_config(c), "-1"))
        async with engine.connect() as connection:
            assert await connection.run_sync(revision) not in (head, None)
            assert await connection.run_sync(differences) != []
        await upgrade(url)
        async with engine.connect() as connection:
            assert await connection.run_sync(revision) == head
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


async def test_state_columns_hold_the_enum_values(tmp_path: Path) -> None:
    """State columns read back as the domain's enums, keep storing the very strings the
    migrations' VARCHAR columns always held, take a member or its value in Core statements,
    and refuse a word that is none of the enum's."""
    url = fresh_postgres_database() if POSTGRES_URL else f"sqlite+aiosqlite:///{tmp_path}/e.db"
    await upgrade(url)
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as connection:
            operator_id = (
                await connection.execute(
                    insert(Operator).values(name="enums", created_at=now).returning(Operator.id)
                )
            ).scalar_one()
            charger_id = (
                await connection.execute(
                    insert(Charger)
                    .values(
                        charge_point_id="CP-ENUMS",
                        operator_id=operator_id,
                        connection_epoch=0,
                        created_at=now,
                    )
                    .returning(Charger.id)
                )
            ).scalar_one()
            await connection.execute(
                insert(QueueItem).values(
                    queue_uuid="q-1",
                    operator_id=operator_id,
                    kind=QueueKind.COMMAND,
                    staging=False,
                    status="IN PROGRESS",
                    created_at=now,
                )
            )
            for action in (TransactionAction.STOP, ChargerAction.CLEAR_CACHE):
                await connection.execute(
                    insert(Command).values(
                        charger_id=charger_id,
                        action=action,
                        status=CommandStatus.PENDING,
                        created_at=now,
                        attempts=0,
                        in_doubt=False,
                    )
                )
            await connection.execute(
                update(Command)
                .where(Command.action == ChargerAction.CLEAR_CACHE)
                .values(status="done")
            )
            stored = (
                await connection.execute(text("SELECT action, status FROM commands ORDER BY id"))
            ).all()
            assert [tuple(row) for row in stored] == [("stop", "pending"), ("clear_cache", "done")]
            item = (await connection.execute(text("SELECT kind, status FROM queue_items"))).one()
            assert tuple(item) == ("command", "IN PROGRESS")

            read = (await connection.execute(select(Command.action, Command.status))).all()
            assert {(type(a), type(s)) for a, s in read} == {
                (TransactionAction, CommandStatus),
                (ChargerAction, CommandStatus),
            }
            assert (
                await connection.scalar(
                    select(QueueItem.status).where(QueueItem.status == QueueStatus.IN_PROGRESS)
                )
            ) is QueueStatus.IN_PROGRESS

            with pytest.raises(StatementError, match="Done"):
                await connection.execute(update(Command).values(status="Done"))
    finally:
        await engine.dispose()

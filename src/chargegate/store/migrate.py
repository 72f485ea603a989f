"""Bring a database, new or old, up to the current schema with Alembic."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from chargegate.store.database import create_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")

# `revision: str = "0014"` and `down_revision: str | None = "0013"`, as Alembic writes them.
_DECLARED = re.compile(r'^(down_revision|revision)\b[^=\n]*= *(?:"([^"\n]*)"|None) *$', re.M)


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), "head")


def newest_revision() -> str | None:
    """The head of the migrations, read from their files: loading Alembic to find it took a
    fifth of every start of a server already at it. None unless every file declares its
    revision and the one before it as Alembic writes them, and one alone is the newest: then
    Alembic decides."""
    revisions: set[str] = set()
    older: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        declared = dict(_DECLARED.findall(path.read_text()))
        if not declared.get("revision") or "down_revision" not in declared:
            return None
        revisions.add(declared["revision"])
        older.add(declared["down_revision"])
    newest = revisions - older
    return newest.pop() if len(newest) == 1 else None


def _current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


async def _at_newest(connection: AsyncConnection) -> bool:
    newest = newest_revision()
    return newest is not None and await connection.run_sync(_current_revision) == newest


async def upgrade(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            if not await _at_newest(connection):
                await connection.run_sync(_upgrade)
    finally:
        await engine.dispose()


def upgrade_sync(url: str) -> None:
    asyncio.run(upgrade(url))

"""Engine and session factory. SQLite runs with WAL and a single writer connection."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

SessionFactory = async_sessionmaker[AsyncSession]


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str) -> AsyncEngine:
    if not is_sqlite(url):
        return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
    # One connection per process: SQLite has one writer anyway, and a single connection means
    # no in-process lock contention. BEGIN IMMEDIATE makes a writer from another process (the
    # CLI beside a running server) wait on busy_timeout instead of failing on a lock upgrade.
    return _sqlite(
        url,
        connections=1,
        pragmas=("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000", "foreign_keys=ON"),
        begin="BEGIN IMMEDIATE",
    )


def create_reader(url: str, writer: AsyncEngine) -> AsyncEngine:
    """The engine for read-only sessions. On SQLite, a few connections beside the single writer:
    WAL lets them read while it writes, so API reads do not queue behind charger writes. On
    PostgreSQL the writer's pool serves reads as well."""
    if not is_sqlite(url):
        return writer
    # A deferred transaction: one consistent snapshot for the session's queries.
    return _sqlite(
        url, connections=4, pragmas=("query_only=ON", "busy_timeout=30000"), begin="BEGIN"
    )


def _sqlite(url: str, connections: int, pragmas: tuple[str, ...], begin: str) -> AsyncEngine:
    """SQLite with transactions begun by us (`begin`), not by the driver."""
    engine = create_async_engine(url, pool_size=connections, max_overflow=0)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)

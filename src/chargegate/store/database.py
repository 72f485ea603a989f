"""Engine and session factory. SQLite runs with WAL and a single writer connection."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy import Connection, PoolResetState, event, make_url
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    ProgrammingError,
)
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession
from sqlalchemy.util import await_

from chargegate.store import sqlite_inline

SessionFactory = async_sessionmaker[AsyncSession]


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


# Connections a PostgreSQL engine (one per worker process) keeps once opened: none is closed
# after use, as one reopened at each peak of load costs a connection and its prepared statements.
POSTGRES_CONNECTIONS = 20
# Connections of the pool for chargers' grouped report writes and lookups (create_grouped): one
# for each of them that can run at once (six writes, three lookups).
GROUPED_CONNECTIONS = 10
# A connection idle longer than this is pinged as it is taken from the pool (the server may have
# restarted, or a proxy dropped it, meanwhile); one back from use more recently is not: a ping
# per transaction was a round trip and a turn of the event loop each (bench/profile.md).
IDLE_PING_S = 5.0
_USED = "chargegate_used_at"


def create_engine(url: str) -> AsyncEngine:
    if not is_sqlite(url):
        return _postgresql(url)
    # One connection per process, run on the event loop's thread (store.sqlite_inline): SQLite
    # has one writer anyway, and a single connection means no in-process lock contention.
    # BEGIN IMMEDIATE makes a writer from another process (the CLI beside a running server)
    # wait for the lock instead of failing on a lock upgrade: in a thread, as the inline
    # connection's busy_timeout is 0 once connected (journal_mode may wait on a lock another
    # process holds, and is set first, with a busy_timeout).
    return _sqlite(
        url,
        connections=1,
        pragmas=(
            "busy_timeout=30000",
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            "busy_timeout=0",
        ),
        begin="BEGIN IMMEDIATE",
        inline=True,
    )


@contextlib.asynccontextmanager
async def one_off_session(url: str) -> AsyncIterator[AsyncSession]:
    """A session on an engine of its own, disposed of afterwards: for the CLI, provisioning and
    scripts, which run once beside (or without) a server."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


def create_grouped(url: str, writer: AsyncEngine) -> AsyncEngine:
    """The engine for chargers' grouped report writes and lookups (services.report_writes,
    services.charger_lookups: batches of hundreds of chargers'). On PostgreSQL, a pool of its
    own: taking turns for the shared pool with single transactions, a batch waited for one as
    long as any of them, and so did each of its hundreds of callers. On SQLite the single
    writer (whose reader engine the grouped reads use, as all reads do)."""
    return writer if is_sqlite(url) else _postgresql(url, GROUPED_CONNECTIONS)


def _postgresql(url: str, connections: int = POSTGRES_CONNECTIONS) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=connections, max_overflow=0)
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "connect")
    @event.listens_for(pool, "checkin")
    def _used(_dbapi_connection: Any, record: Any) -> None:
        record.info[_USED] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_USED, 0.0) < IDLE_PING_S:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            # The pool drops the connection and takes another (a new one, if need be).
            raise DisconnectionError(f"an idle database connection is gone: {exc!r}") from exc

    return engine


def create_reader(url: str, writer: AsyncEngine) -> AsyncEngine:
    """The engine for read-only sessions. On SQLite, a few connections beside the single writer:
    WAL lets them read while it writes, so API reads do not queue behind charger writes. On
    PostgreSQL the writer's pool serves reads as well."""
    if not is_sqlite(url):
        return writer
    # A deferred transaction: one consistent snapshot for the session's queries.
    return _sqlite(
        url,
        connections=4,
        pragmas=("query_only=ON", "busy_timeout=30000"),
        begin="BEGIN",
        inline=False,
    )


def _sqlite(
    url: str, connections: int, pragmas: tuple[str, ...], begin: str, *, inline: bool
) -> AsyncEngine:
    """SQLite with transactions begun by us (`begin`), not by the driver.

    Every statement through aiosqlite is a round trip to its thread and back to the event loop,
    which costs more CPU than a small query itself: `begin` is sent in one (SQLAlchemy's
    exec_driver_sql takes three), and a connection back in the pool is rolled back only if it
    is still in a transaction (a session's close has already rolled back or committed it,
    after which the pool's own reset would be one more)."""
    path = make_url(url).database
    engine = create_async_engine(
        url,
        pool_size=connections,
        max_overflow=0,
        pool_reset_on_return=None,
        **({"async_creator": partial(sqlite_inline.connect, path)} if inline and path else {}),
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # aiosqlite's connections begin transactions of their own; the inline one never does.
        if dbapi_connection.isolation_level is not None:
            dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        driver = connection.connection.driver_connection
        assert isinstance(driver, aiosqlite.Connection | sqlite_inline.InlineConnection)
        try:
            await_(
                driver.begin(begin)
                if isinstance(driver, sqlite_inline.InlineConnection)
                else driver.execute(begin)
            )
        except sqlite3.Error as exc:
            # As SQLAlchemy's own statements raise it, for the callers' `except DBAPIError`.
            raise DBAPIError.instance(begin, None, exc, sqlite3.Error) from exc

    @event.listens_for(engine.sync_engine.pool, "reset")
    def _on_reset(dbapi_connection: Any, record: Any, state: PoolResetState) -> None:
        driver: aiosqlite.Connection | sqlite_inline.InlineConnection | None = (
            record.driver_connection
        )
        if state.asyncio_safe and driver is not None and driver.in_transaction:
            dbapi_connection.rollback()

    return engine


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


# Failures that writing the same rows again repeats: a value a column cannot hold (SQLite's
# driver raises UnicodeEncodeError and OverflowError itself, unwrapped), a constraint, a bug.
_PERMANENT = (ValueError, TypeError, ArithmeticError, LookupError)
_PERMANENT_DB = (DataError, IntegrityError, ProgrammingError)
# SQLSTATE classes of the same on PostgreSQL (data exception, integrity constraint violation),
# which asyncpg's errors reach SQLAlchemy as a plain DBAPIError with.
_PERMANENT_SQLSTATE = ("22", "23")


def permanent_failure(exc: BaseException) -> bool:
    """Whether a failed write would fail again the same way, rather than pass once the database
    is reachable again (a lost connection, a lock, a server restarting)."""
    # A value SQLAlchemy could not bind comes wrapped (StatementError), its cause as `orig`.
    if isinstance(exc, _PERMANENT_DB) or isinstance(getattr(exc, "orig", exc), _PERMANENT):
        return True
    return _sqlstate(exc)[:2] in _PERMANENT_SQLSTATE


# PostgreSQL's deadlock_detected and serialization_failure: the transaction was rolled back
# only to break a tie with another one, and passes when run again.
_RETRY_SQLSTATES = ("40P01", "40001")


def lost_a_tie(exc: BaseException) -> bool:
    """Whether the database rolled the transaction back to let another one through."""
    return _sqlstate(exc) in _RETRY_SQLSTATES


def failure_kind(exc: BaseException) -> str:
    """What went wrong, for a log line: the error's class and SQLSTATE, never its message,
    which quotes the values written."""
    sqlstate = _sqlstate(exc)
    return f"{type(exc).__name__} (SQLSTATE {sqlstate})" if sqlstate else type(exc).__name__


def _sqlstate(exc: BaseException) -> str:
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return sqlstate if isinstance(sqlstate, str) else ""

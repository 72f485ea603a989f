"""SQLite's one writer connection, run on the event loop's own thread.

Through aiosqlite every statement is a round trip to its thread and back through the event
loop: a write transaction of a few statements then holds the single writer for as many turns of
a busy loop (under load, milliseconds each), and every other write of the node waits behind it.
The statements of a write transaction are small and indexed (microseconds each), so running
them in place holds the loop for less than the round trip costs it, and the writer only for as
long as the work takes. What can take long still runs in a thread: COMMIT (its fsync), and a
BEGIN that must wait for another process's write lock (the CLI beside a running server).
A transaction of many statements (a group commit's batch: an expiry wave's thousands of stops)
gives the loop a turn every SLICE_S of its work, so that no socket of the node waits behind it
for longer than that.

The objects below offer the coroutine interface of aiosqlite's connection and cursor that
SQLAlchemy's aiosqlite dialect drives; their coroutines suspend only for those two and for the
turns.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

log = logging.getLogger(__name__)

# How long a BEGIN waits (in its thread) for another process's write lock.
LOCK_WAIT_MS = 30_000
# The longest a write transaction runs statements on the loop before the loop's other tasks
# get a turn (the writer stays held meanwhile).
SLICE_S = 0.01


class _Slice:
    """The time the connection's work has held the loop since it last gave a turn."""

    __slots__ = ("began",)

    def __init__(self) -> None:
        self.began = time.perf_counter()

    def restart(self) -> None:
        self.began = time.perf_counter()

    async def turn(self) -> None:
        if time.perf_counter() - self.began >= SLICE_S:
            await asyncio.sleep(0)
            self.restart()


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor, slice_: _Slice) -> None:
        self._cursor = cursor
        self._slice = slice_

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        await self._slice.turn()
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        await self._slice.turn()
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> Sequence[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    def __init__(self, connection: sqlite3.Connection) -> None:
        # Named as aiosqlite names it: the dialect checks it before a commit or a rollback.
        self._connection: sqlite3.Connection | None = connection
        self._slice = _Slice()

    @property
    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return self._connection

    @property
    def isolation_level(self) -> str | None:
        return self._open.isolation_level

    @property
    def in_transaction(self) -> bool:
        return self._connection is not None and self._connection.in_transaction

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._open.cursor(), self._slice)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open.create_function(*args, **kwargs)

    async def begin(self, statement: str) -> None:
        """`statement` (BEGIN IMMEDIATE) in place; in a thread if another process holds the
        write lock, waiting for it there rather than on the event loop."""
        # The work before a transaction is not the transaction's: its first turn comes after
        # SLICE_S of its own.
        self._slice.restart()
        try:
            self._open.execute(statement)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise
            log.warning("another process holds the database's write lock; waiting for it")
            await asyncio.to_thread(self._begin_waiting, statement)

    def _begin_waiting(self, statement: str) -> None:
        connection = self._open
        connection.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
        try:
            connection.execute(statement)
        finally:
            connection.execute("PRAGMA busy_timeout=0")

    async def commit(self) -> None:
        await asyncio.to_thread(self._open.commit)

    async def rollback(self) -> None:
        self._open.rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Closes at once (the dialect's terminate)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


async def connect(path: str) -> InlineConnection:
    # Used by the loop's thread and, for a commit or a waiting BEGIN, one other thread at a
    # time (never two at once: the connection belongs to one session while it works).
    # isolation_level None: transactions are begun by us (store.database), not by the module.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    return InlineConnection(connection)

"""Concurrent API changes committed together: one write transaction (and one fsync) for all
the changes that arrived while the last one was being written.

Each change runs in a savepoint of the shared transaction, one after another, so an error in one
(a port not found, a busy port, a value the database refuses) undoes only that change and is
raised in its own caller. Every caller returns once the transaction holding its change has
committed: durable before it is answered, as with a transaction of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.store.database import SessionFactory

Result = TypeVar("Result")
Change = Callable[[AsyncSession], Awaitable[Any]]


class SharedWrites:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions
        self._pending: list[tuple[Change, asyncio.Future[Any]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def run(self, change: Callable[[AsyncSession], Awaitable[Result]]) -> Result:
        """change(session)'s result once it is committed, or its error (nothing of it kept)."""
        done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((change, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="write API changes")
        # Shielded: a caller gone (its client hung up) leaves its change to the writer, which
        # commits or drops it with the others of its transaction.
        return await asyncio.shield(done)

    async def _write_all(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            await self._write(batch)

    async def _write(self, batch: list[tuple[Change, asyncio.Future[Any]]]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            async with self._sessions() as session, session.begin():
                for change, _ in batch:
                    try:
                        # Its savepoint is released (its rows written) before it counts as done.
                        async with session.begin_nested():
                            result = await change(session)
                        outcomes.append((True, result))
                    except Exception as exc:
                        outcomes.append((False, exc))
        except Exception as exc:
            # The commit (or the transaction's begin) failed: none of the batch was kept.
            outcomes = [(False, exc)] * len(batch)
        for (_, done), (ok, value) in zip(batch, outcomes, strict=True):
            if done.done():
                continue
            if ok:
                done.set_result(value)
            else:
                done.set_exception(value)

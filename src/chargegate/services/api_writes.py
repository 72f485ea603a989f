"""The API's changes (starts), each committed before its caller is answered, and each the
caller's own: an error in one (a port not found, a busy port, a value the database refuses)
undoes only that change and is raised only in its caller. A caller gone meanwhile (its client
hung up) leaves its change to be committed all the same.

Shared (SQLite, one writer): the changes that arrive while the last ones are being written are
committed together, one write transaction (and one fsync) for all of them, by a GroupCommit of
changes. Each runs in a savepoint of the shared transaction, one after another (a change alone
in its batch, in the transaction itself). A transaction that fails as a whole (its commit, a tie
lost) is run again change by change, each in a transaction of its own (GroupCommit), so that
one change's failure is only its caller's.

Not shared (PostgreSQL, a pool of connections): a transaction of its own for each change, run
side by side. One shared transaction would run every start one after another on one connection,
and its savepoints cost more round trips than the commits saved (bench/profile.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.services.group_commit import GroupCommit
from chargegate.store.database import SessionFactory, lost_a_tie

Result = TypeVar("Result")
Change = Callable[[AsyncSession], Awaitable[Result]]


@dataclass(slots=True)
class _Pending(Generic[Result]):
    change: Change[Result]
    # Set by each write that runs the change: the last one is the one committed (or not).
    outcome: tuple[Result] | Exception | None = None

    def answer(self) -> Result:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        assert self.outcome is not None, "answered before it was written"
        return self.outcome[0]


class ApiWrites:
    def __init__(self, sessions: SessionFactory, *, shared: bool) -> None:
        self._sessions = sessions
        self._group: GroupCommit[_Pending[Any]] | None = (
            GroupCommit(partial(_write_shared, sessions), "api_changes") if shared else None
        )
        # Changes running in transactions of their own, held here until committed.
        self._alone: set[asyncio.Task[Any]] = set()

    async def run(self, change: Change[Result]) -> Result:
        """change(session)'s result once it is committed, or its error (nothing of it kept)."""
        if self._group is None:
            task = asyncio.create_task(self._write_alone(change))
            self._alone.add(task)
            task.add_done_callback(self._alone.discard)
            return await asyncio.shield(task)
        pending = _Pending(change)
        await self._group.add(pending)
        return pending.answer()

    async def _write_alone(self, change: Change[Result]) -> Result:
        async with self._sessions() as session, session.begin():
            return await change(session)


async def _write_shared(sessions: SessionFactory, batch: list[_Pending[Any]]) -> None:
    if len(batch) == 1:
        await _write_one(sessions, batch[0])
        return
    async with sessions() as session, session.begin():
        for pending in batch:
            try:
                # Its savepoint is released (its rows written) before it counts as done.
                async with session.begin_nested():
                    pending.outcome = (await pending.change(session),)
            except Exception as exc:
                if lost_a_tie(exc):
                    # Not the change's own failure: the group commit runs it again.
                    raise
                pending.outcome = exc


async def _write_one(sessions: SessionFactory, pending: _Pending[Any]) -> None:
    """A batch of one change needs no savepoint (two statements more while holding the writer):
    its failure rolls the whole transaction back, which is only its own."""
    async with sessions() as session:
        transaction = await session.begin()
        try:
            # Flushed here, so that a row the database refuses is the change's error, as it is
            # at a savepoint's release; a failing commit is the group commit's to handle.
            result = await pending.change(session)
            await session.flush()
        except Exception as exc:
            await transaction.rollback()
            if lost_a_tie(exc):
                raise
            pending.outcome = exc
            return
        await transaction.commit()
        pending.outcome = (result,)

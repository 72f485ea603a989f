"""Concurrent API changes committed together: one write transaction (and one fsync) for all
the changes that arrived while the last one was being written, by a GroupCommit of changes.

Each change runs in a savepoint of the shared transaction, one after another, so an error of its
own (a port not found, a busy port, a value the database refuses) undoes only that change and is
raised in its own caller. Every caller returns once the transaction holding its change has
committed: durable before it is answered, as with a transaction of its own. A transaction that
fails as a whole (its commit, a tie lost on PostgreSQL) is run again change by change, each in a
transaction of its own (GroupCommit), so that one change's failure is only its caller's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.services.group_commit import GroupCommit
from chargegate.store.database import SessionFactory, lost_a_tie

Result = TypeVar("Result")


@dataclass(slots=True)
class _Change(Generic[Result]):
    run: Callable[[AsyncSession], Awaitable[Result]]
    # Set by each write that runs the change: the last one is the one committed (or not).
    outcome: tuple[Result] | Exception | None = None

    def answer(self) -> Result:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        assert self.outcome is not None, "answered before it was written"
        return self.outcome[0]


class SharedWrites:
    def __init__(self, sessions: SessionFactory) -> None:
        self._group: GroupCommit[_Change[Any]] = GroupCommit(
            partial(_write, sessions), "api_changes"
        )

    async def run(self, change: Callable[[AsyncSession], Awaitable[Result]]) -> Result:
        """change(session)'s result once it is committed, or its error (nothing of it kept).
        A caller gone meanwhile (its client hung up) leaves its change to be committed."""
        pending = _Change(change)
        await self._group.add(pending)
        return pending.answer()


async def _write(sessions: SessionFactory, batch: list[_Change[Any]]) -> None:
    async with sessions() as session, session.begin():
        for change in batch:
            try:
                # Its savepoint is released (its rows written) before it counts as done.
                async with session.begin_nested():
                    change.outcome = (await change.run(session),)
            except Exception as exc:
                if lost_a_tie(exc):
                    # Not the change's own failure: the group commit runs it again.
                    raise
                change.outcome = exc

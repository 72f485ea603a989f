"""Group commit: many small writes that arrive together become a few transactions.

On SQLite every write transaction goes through one connection (and an fsync); a burst of small
writes (an expiry wave's answers, a fleet's first status reports, thousands of heartbeats) would
otherwise queue one commit at a time behind each other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")


class GroupCommit(Generic[Item]):
    """Items added while one write is under way are written together by the next writer.

    `add` returns once its item is written, by this task or an earlier one, so a caller waits
    for at most the write under way and its own. A batch that fails is written item by item.
    An item that still fails raises its error in its own caller, or, with `keep_failed`, is
    kept for the next `flush` (a retry loop of the owner's) and never dropped.
    """

    def __init__(
        self,
        write: Callable[[list[Item]], Awaitable[None]],
        what: str,
        *,
        keep_failed: bool = False,
    ) -> None:
        self._write = write
        self._what = what
        self._keep_failed = keep_failed
        self._pending: list[tuple[Item, asyncio.Future[None]]] = []
        self._writing = asyncio.Lock()

    async def add(self, item: Item) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        await self.flush()
        await done

    async def flush(self) -> None:
        async with self._writing:
            batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                await self._write([item for item, _ in batch])
                errors: list[Exception | None] = [None] * len(batch)
            except Exception:
                log.exception(
                    "writing a batch failed; writing one by one", extra={"what": self._what}
                )
                errors = [await self._write_one(item) for item, _ in batch]
            kept = []
            for (item, done), error in zip(batch, errors, strict=True):
                if error is not None and self._keep_failed:
                    kept.append((item, done))
                    error = None
                if not done.done():  # its caller may have been cancelled meanwhile
                    if error is None:
                        done.set_result(None)
                    else:
                        done.set_exception(error)
            if kept:
                log.error(
                    "not written yet; will retry", extra={"what": self._what, "count": len(kept)}
                )
                self._pending = kept + self._pending

    async def _write_one(self, item: Item) -> Exception | None:
        try:
            await self._write([item])
        except Exception as exc:
            return exc
        return None

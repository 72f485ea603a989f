"""Group commit: many small writes that arrive together become a few transactions.

On SQLite every write transaction goes through one connection (and an fsync); a burst of small
writes (an expiry wave's answers, a fleet's first status reports, thousands of heartbeats) would
otherwise queue one commit at a time behind each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, TypeVar

from chargegate.domain.errors import ChargegateError
from chargegate.metrics import GROUP_COMMIT_DEAD_LETTERS
from chargegate.store.database import failure_kind, lost_a_tie, permanent_failure

log = logging.getLogger(__name__)

Item = TypeVar("Item")

# How often an item written on its own is run again when PostgreSQL rolled it back to break a
# tie (a deadlock, a serialization failure) with another transaction.
TIE_ATTEMPTS = 3


class DeadLetter(ChargegateError):
    """The item cannot be written, now or ever (the database refuses a value in it): it was
    dropped, and its caller must say what happens instead."""


class GroupCommit(Generic[Item]):
    """One writer task writes whatever has been added since its last write, in one batch.

    `add` returns once its item is written. The items that arrive during a write all go in the
    next one, so a batch grows with the load instead of each caller writing its own (callers
    taking turns on a lock would write one small batch each). A batch that fails is written
    item by item, and an item that loses a tie with another transaction (database.lost_a_tie)
    is written again, up to TIE_ATTEMPTS times: the one place a write is retried, so neither
    `write` nor a caller retries. An item that still fails for good (database.permanent_failure)
    is a dead letter: logged without its values, counted, dropped, and DeadLetter raised in its
    caller; retried, it would fail every batch it joins for ever. An item that fails otherwise
    (the database is unreachable) raises its error in its caller, or, with `keep_failed`, is
    kept for the next write (started by `flush`, a retry loop of the owner's) and never dropped.

    A caller cancelled while it waits (its client hung up) leaves its item to be written with
    the others: what it asked for happens, or fails, as if it had stayed.

    `put` adds an item nobody waits for: for writes whose answer must not queue behind the
    writer (what is only informative); its failures are logged, never raised. With `linger`,
    the writer waits that long before each write, so that items that trickle in (a fleet's
    heartbeats) share a transaction instead of taking the writer one by one; `flush` cuts the
    wait short.
    """

    def __init__(
        self,
        write: Callable[[list[Item]], Awaitable[None]],
        what: str,
        *,
        keep_failed: bool = False,
        describe: Callable[[Item], Mapping[str, object]] = lambda item: {},
        linger: float = 0.0,
    ) -> None:
        self._write = write
        # Names the items in logs, in the writer task's name and in the dead letter metric.
        self._what = what
        self._keep_failed = keep_failed
        # What identifies a dead letter in its log line (ids, never the values written).
        self._describe = describe
        # An item's future settles its caller; None when nobody waits (`put`).
        self._pending: list[tuple[Item, asyncio.Future[None] | None]] = []
        self._linger = linger
        self._hurry = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        GROUP_COMMIT_DEAD_LETTERS.labels(what)  # present (as 0) before the first one

    async def add(self, item: Item) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        self._start()
        await done

    def put(self, item: Item) -> None:
        self._pending.append((item, None))
        self._start()

    async def flush(self) -> None:
        """Returns once everything added so far has had a write attempt."""
        self._hurry.set()
        if self._pending:
            self._start()
        if self._writer is not None:
            await asyncio.shield(self._writer)

    def _start(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name=f"write {self._what}")

    async def _write_all(self) -> None:
        kept: list[tuple[Item, asyncio.Future[None] | None]] = []
        if self._linger:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hurry.wait(), self._linger)
            self._hurry.clear()
        while self._pending:
            batch, self._pending = self._pending, []
            kept += await self._write_batch(batch)
        if kept:
            log.error("not written yet; will retry", extra={"what": self._what, "count": len(kept)})
            self._pending = kept + self._pending

    async def _write_batch(
        self, batch: list[tuple[Item, asyncio.Future[None] | None]]
    ) -> list[tuple[Item, asyncio.Future[None] | None]]:
        """Writes the batch and settles its callers; returns the failed items to keep."""
        try:
            await self._write([item for item, _ in batch])
            errors: list[Exception | None] = [None] * len(batch)
        except Exception as exc:
            log.warning(
                "writing a batch failed; writing one by one",
                extra={"what": self._what, "error": failure_kind(exc)},
            )
            errors = [await self._write_one(item) for item, _ in batch]
        kept = []
        for (item, done), error in zip(batch, errors, strict=True):
            if error is not None and permanent_failure(error):
                error = self._dead_letter(item, error)
            elif error is not None and self._keep_failed:
                kept.append((item, done))
                error = None
            if done is None:
                if error is not None and not isinstance(error, DeadLetter):
                    log.warning(
                        "an item nobody waits for was not written",
                        extra={"what": self._what, "error": failure_kind(error)},
                    )
            elif not done.done():  # its caller may have been cancelled meanwhile
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)
        return kept

    async def _write_one(self, item: Item) -> Exception | None:
        attempt = 1
        while True:
            try:
                await self._write([item])
                return None
            except Exception as exc:
                if attempt == TIE_ATTEMPTS or not lost_a_tie(exc):
                    return exc
                log.warning(
                    "an item lost a tie with another write; writing it again",
                    extra={"what": self._what, "error": failure_kind(exc), **self._describe(item)},
                )
            attempt += 1

    def _dead_letter(self, item: Item, error: Exception) -> DeadLetter:
        kind = failure_kind(error)
        GROUP_COMMIT_DEAD_LETTERS.labels(self._what).inc()
        log.error(
            "dropped an item the database refuses for good",
            extra={"what": self._what, "error": kind, **self._describe(item)},
        )
        # Not chained to the error: its message quotes the values written, and callers log.
        return DeadLetter(f"{self._what}: {kind}")

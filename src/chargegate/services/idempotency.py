"""Idempotency-Key records, written in the transaction of the change they guard.

A change sent with a key takes the key (inserts its record) first thing in its own transaction,
and writes its answer into the record before that transaction commits: the change and the
record of its answer are committed together or not at all, so a crash never leaves one without
the other. A retry is answered from the record. A retry sent while the first request still runs
waits for the key (on PostgreSQL, on the unique index of (operator, key); on SQLite, for the
single writer) until the first request's transaction ends, and then finds its answer. An error
rolls the change back and the record with it: a retry runs again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.times import utcnow
from chargegate.services.runtime import Runtime
from chargegate.store import idempotency as idempotency_store
from chargegate.store.models import IdempotencyRecord

View = TypeVar("View")


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer as the client got it: replayed as is to the request's retries."""

    status_code: int
    body: str | None


@dataclass(frozen=True, slots=True)
class Idempotency(Generic[View]):
    """A change sent with an Idempotency-Key, for the service that makes it."""

    key: str
    # Of the request (method, path and body): the same key with another request is refused.
    fingerprint: str
    # The API's answer with what the change returns (its view), recorded with the change.
    answer: Callable[[View], Answer]


@dataclass(frozen=True, slots=True)
class Earlier:
    """The request that took a key first: its fingerprint, and its answer (None only for a key
    taken by a version that recorded answers apart from their changes, and not yet answered)."""

    fingerprint: str
    status_code: int | None
    response_body: str | None


@dataclass(slots=True)
class Claim(Generic[View]):
    """A key taken in a change's transaction (no record for a change sent without a key)."""

    session: AsyncSession
    record_id: int | None
    once: Idempotency[View] | None

    async def answered(self, view: View) -> None:
        """Record the answer, last thing before the change's transaction commits. Only a
        success is kept: the key of another answer is free again with the transaction's end."""
        if self.record_id is None or self.once is None:
            return
        answer = self.once.answer(view)
        if answer.status_code >= 300:
            await idempotency_store.release(self.session, self.record_id)
            return
        await idempotency_store.answer(
            self.session, self.record_id, answer.status_code, answer.body
        )


async def earlier(rt: Runtime, operator_id: int, key: str) -> Earlier | None:
    """The committed request that took the key, read before a request is even checked: a retry
    is answered as its first run was, though its arguments may no longer pass (an expiry that
    has passed since)."""
    async with rt.reads() as session:
        record = await idempotency_store.find(session, operator_id, key, utcnow())
    return None if record is None else _earlier(record)


async def claim(
    session: AsyncSession, operator_id: int, once: Idempotency[View] | None
) -> Claim[View] | Earlier:
    """Take the key in the change's transaction, before the change: the Claim to record its
    answer with, or the request that took the key first (make no change then)."""
    if once is None:
        return Claim(session, None, None)
    now = utcnow()
    record_id = await idempotency_store.claim(session, operator_id, once.key, once.fingerprint, now)
    if record_id is not None:
        return Claim(session, record_id, once)
    found = await idempotency_store.find(session, operator_id, once.key, now)
    if found is None:
        # Deleted by another transaction since: the caller is told to retry, as for a
        # request still running.
        return Earlier(once.fingerprint, None, None)
    return _earlier(found)


def _earlier(record: IdempotencyRecord) -> Earlier:
    return Earlier(record.fingerprint, record.status_code, record.response_body)

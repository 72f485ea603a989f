"""Idempotency-Key records: taken in the transaction of the change they guard, and given its
answer there."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.store.models import IdempotencyRecord

# Keys are remembered this long; a retry after that is a new request.
RETENTION = timedelta(hours=24)


async def find(
    session: AsyncSession, operator_id: int, key: str, now: datetime
) -> IdempotencyRecord | None:
    """The key's record, unless it is past its retention (and so about to be deleted)."""
    return await session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.operator_id == operator_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.created_at >= now - RETENTION,
        )
    )


async def claim(
    session: AsyncSession, operator_id: int, key: str, fingerprint: str, now: datetime
) -> IdempotencyRecord | None:
    """Insert the record for a request about to run; None if the key is already taken.

    A key taken by a transaction not yet committed holds this insert until that transaction
    ends (on the unique index; on SQLite, the single writer serializes them anyway): the key is
    then either taken for good (None) or free again."""
    # Rows other transactions are deleting are left to them: this runs in the caller's
    # transaction, which would otherwise wait for theirs to end.
    stale = (
        select(IdempotencyRecord.id)
        .where(IdempotencyRecord.created_at < now - RETENTION)
        .with_for_update(skip_locked=True)
    )
    await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(stale)))
    record = IdempotencyRecord(
        operator_id=operator_id, key=key, fingerprint=fingerprint, created_at=now
    )
    try:
        async with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return None
    return record

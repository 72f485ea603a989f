"""Idempotency-Key records: claimed before a request runs, completed with its answer."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.store.models import IdempotencyRecord

# Keys are remembered this long; a retry after that is a new request.
RETENTION = timedelta(hours=24)


async def find(session: AsyncSession, operator_id: int, key: str) -> IdempotencyRecord | None:
    return await session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.operator_id == operator_id, IdempotencyRecord.key == key
        )
    )


async def claim(
    session: AsyncSession, operator_id: int, key: str, fingerprint: str, now: datetime
) -> IdempotencyRecord | None:
    """Insert the record for a request about to run; None if the key is already taken (by a
    finished request, or one still running here or on another node)."""
    await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - RETENTION)
    )
    record = IdempotencyRecord(
        operator_id=operator_id, key=key, fingerprint=fingerprint, created_at=now
    )
    try:
        async with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return None
    return record

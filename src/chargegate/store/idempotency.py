"""Idempotency-Key records: taken in the transaction of the change they guard, and given its
answer there."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ScalarSelect, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.store.models import IdempotencyRecord

# Keys are remembered this long; a retry after that is a new request.
RETENTION = timedelta(hours=24)
# Keys past their retention are deleted in batches, at most this much later: they are already
# free (`claim` takes one over), so only their space waits, and a batch an hour is one write
# where a deletion per key would be one per keyed request.
SWEEP_SLACK = timedelta(hours=1)
# Rows deleted per write pass: a backlog (a server down for days) goes in bounded passes.
SWEEP_BATCH = 1000


async def find(
    session: AsyncSession, operator_id: int, key: str, now: datetime
) -> IdempotencyRecord | None:
    """The key's record, unless it is past its retention (and so free again)."""
    return await session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.operator_id == operator_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.created_at >= now - RETENTION,
        )
    )


async def claim(
    session: AsyncSession, operator_id: int, key: str, fingerprint: str, now: datetime
) -> int | None:
    """Insert the record for a request about to run; its id, or None if the key is taken.

    One statement, with no savepoint to catch a unique violation: the insert does nothing on a
    taken key. A key taken by a transaction not yet committed holds this insert until that
    transaction ends (on the unique index; on SQLite, the single writer serializes them anyway):
    the key is then either taken for good (None) or free again."""
    taken = await _insert(session, operator_id, key, fingerprint, now)
    if taken is not None:
        return taken
    # The key's row may be past its retention, not yet swept: it is free, so it goes, and the
    # insert takes the key (or meets the live row again).
    await session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.operator_id == operator_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.created_at < now - RETENTION,
        )
    )
    return await _insert(session, operator_id, key, fingerprint, now)


async def _insert(
    session: AsyncSession, operator_id: int, key: str, fingerprint: str, now: datetime
) -> int | None:
    values = {
        "operator_id": operator_id,
        "key": key,
        "fingerprint": fingerprint,
        "created_at": now,
    }
    # Both dialects have ON CONFLICT DO NOTHING, each under its own construct.
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    insert = dialect.insert(IdempotencyRecord).on_conflict_do_nothing(
        index_elements=[IdempotencyRecord.operator_id, IdempotencyRecord.key]
    )
    taken: int | None = await session.scalar(insert.values(values).returning(IdempotencyRecord.id))
    return taken


async def answer(session: AsyncSession, record_id: int, status_code: int, body: str | None) -> None:
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record_id)
        .values(status_code=status_code, response_body=body),
        execution_options={"synchronize_session": False},
    )


async def release(session: AsyncSession, record_id: int) -> None:
    await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id),
        execution_options={"synchronize_session": False},
    )


async def sweep(session: AsyncSession, now: datetime) -> None:
    """Delete up to SWEEP_BATCH records past their retention, oldest first (on the created_at
    index); the scheduler comes back at once while next_due still finds one."""
    # Rows another node is sweeping, or a request taking over, are left to them.
    stale = (
        select(IdempotencyRecord.id)
        .where(IdempotencyRecord.created_at < now - RETENTION)
        .order_by(IdempotencyRecord.created_at)
        .limit(SWEEP_BATCH)
        .with_for_update(skip_locked=True)
    )
    await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(stale)),
        execution_options={"synchronize_session": False},
    )


def oldest() -> ScalarSelect[datetime]:
    """When the oldest record was taken: its sweep is due SWEEP_SLACK after its retention."""
    return select(func.min(IdempotencyRecord.created_at)).scalar_subquery()

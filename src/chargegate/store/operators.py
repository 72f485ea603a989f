"""Operators and their API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.roles import Role
from chargegate.domain.tokens import UnknownTokens
from chargegate.store.models import ApiKey, Operator


async def get_or_create_operator(
    session: AsyncSession, name: str, now: datetime, *, for_update: bool = False
) -> Operator:
    query = select(Operator).where(Operator.name == name)
    if for_update:
        query = query.with_for_update()
    operator = await session.scalar(query)
    if operator is not None:
        return operator
    try:
        # A savepoint: another session may insert the same name first (two first handshakes
        # of an auto-registration at once), and then that row is the one.
        async with session.begin_nested():
            operator = Operator(name=name, created_at=now)
            session.add(operator)
    except IntegrityError:
        operator = await session.scalar(query)
        if operator is None:
            raise
    return operator


async def find_operator(session: AsyncSession, name: str) -> Operator | None:
    return await session.scalar(select(Operator).where(Operator.name == name))


async def add_api_key(
    session: AsyncSession,
    operator: Operator,
    lookup: str,
    key_hash: str,
    now: datetime,
    role: Role = Role.OPERATOR,
) -> ApiKey:
    api_key = ApiKey(
        operator_id=operator.id, lookup=lookup, key_hash=key_hash, created_at=now, role=role
    )
    session.add(api_key)
    await session.flush()
    return api_key


async def find_api_key(session: AsyncSession, lookup: str) -> ApiKey | None:
    return await session.scalar(
        select(ApiKey).where(ApiKey.lookup == lookup, ApiKey.revoked_at.is_(None))
    )


async def list_api_keys(session: AsyncSession) -> list[tuple[ApiKey, str]]:
    """Every key, revoked or not, with its operator's name, oldest first."""
    rows = await session.execute(
        select(ApiKey, Operator.name)
        .join(Operator, Operator.id == ApiKey.operator_id)
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    return [(api_key, name) for api_key, name in rows.tuples()]


async def revoke_api_key(
    session: AsyncSession, lookup: str, now: datetime
) -> tuple[ApiKey, str] | None:
    """Revoke the key with this lookup id (a revoked key keeps its first revocation time);
    returns it with its operator's name, or None when there is no such key."""
    row = (
        await session.execute(
            select(ApiKey, Operator.name)
            .join(Operator, Operator.id == ApiKey.operator_id)
            .where(ApiKey.lookup == lookup)
        )
    ).first()
    if row is None:
        return None
    api_key, name = row.tuple()
    if api_key.revoked_at is None:
        api_key.revoked_at = now
        await session.flush()
    return api_key, name


async def replace_api_key_hash(
    session: AsyncSession, api_key_id: int, old_hash: str, new_hash: str
) -> None:
    """Store a new hash for a key unless it changed meanwhile (another node rehashed it)."""
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == api_key_id, ApiKey.key_hash == old_hash)
        .values(key_hash=new_hash)
    )


async def set_unknown_tokens(
    session: AsyncSession, name: str, policy: UnknownTokens, now: datetime
) -> None:
    operator = await get_or_create_operator(session, name, now, for_update=True)
    operator.unknown_tokens = policy


async def operator(
    session: AsyncSession, operator_id: int, *, for_update: bool = False
) -> Operator:
    query = select(Operator).where(Operator.id == operator_id)
    if for_update:
        query = query.with_for_update()
    found = await session.scalar(query)
    assert found is not None, "an authenticated operator exists"
    return found

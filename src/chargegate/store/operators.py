"""Operators and their API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.store.models import ApiKey, Operator


async def get_or_create_operator(session: AsyncSession, name: str, now: datetime) -> Operator:
    operator = await session.scalar(select(Operator).where(Operator.name == name))
    if operator is None:
        operator = Operator(name=name, created_at=now)
        session.add(operator)
        await session.flush()
    return operator


async def add_api_key(
    session: AsyncSession, operator: Operator, lookup: str, key_hash: str, now: datetime
) -> ApiKey:
    api_key = ApiKey(operator_id=operator.id, lookup=lookup, key_hash=key_hash, created_at=now)
    session.add(api_key)
    await session.flush()
    return api_key


async def find_api_key(session: AsyncSession, lookup: str) -> ApiKey | None:
    return await session.scalar(
        select(ApiKey).where(ApiKey.lookup == lookup, ApiKey.revoked_at.is_(None))
    )

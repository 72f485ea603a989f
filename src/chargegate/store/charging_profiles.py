"""The charging profiles chargegate set on chargers (models.ChargingProfile)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.charging_profiles import ClearProfileParams, SetProfileParams
from chargegate.store.models import ChargingProfile


async def keep(
    session: AsyncSession,
    charger_id: int,
    profile_id: int,
    params: SetProfileParams,
    stored: dict[str, Any],
    now: datetime,
) -> None:
    """A profile the charger accepted, in place of one of the same id, and (as the charger
    itself replaces it) of one of the same port, purpose and stack level."""
    await session.execute(
        delete(ChargingProfile).where(
            ChargingProfile.charger_id == charger_id,
            (ChargingProfile.profile_id == profile_id)
            | and_(
                ChargingProfile.port == params.port,
                ChargingProfile.purpose == params.purpose.value,
                ChargingProfile.stack_level == params.stack_level,
            ),
        )
    )
    session.add(
        ChargingProfile(
            charger_id=charger_id,
            profile_id=profile_id,
            port=params.port,
            purpose=params.purpose.value,
            stack_level=params.stack_level,
            params=stored,
            set_at=now,
        )
    )


async def forget(session: AsyncSession, charger_id: int, cleared: ClearProfileParams) -> None:
    """The profiles a ClearChargingProfile the charger accepted removed."""
    await session.execute(
        delete(ChargingProfile).where(ChargingProfile.charger_id == charger_id, _matching(cleared))
    )


def _matching(cleared: ClearProfileParams) -> ColumnElement[bool]:
    if cleared.profile_id is not None:
        return ChargingProfile.profile_id == cleared.profile_id
    conditions: list[ColumnElement[bool]] = []
    if cleared.port is not None:
        conditions.append(ChargingProfile.port == cleared.port)
    if cleared.purpose is not None:
        conditions.append(ChargingProfile.purpose == cleared.purpose.value)
    if cleared.stack_level is not None:
        conditions.append(ChargingProfile.stack_level == cleared.stack_level)
    return and_(true(), *conditions)


async def of_charger(session: AsyncSession, charger_id: int) -> Sequence[ChargingProfile]:
    return (
        await session.scalars(
            select(ChargingProfile)
            .where(ChargingProfile.charger_id == charger_id)
            .order_by(ChargingProfile.profile_id)
        )
    ).all()


def _listed(charger_id: int) -> Select[ChargingProfile]:
    """A charger's profiles, newest id first."""
    return (
        select(ChargingProfile)
        .where(ChargingProfile.charger_id == charger_id)
        .order_by(ChargingProfile.profile_id.desc())
    )


async def page_end(
    session: AsyncSession, charger_id: int, limit: int, after: int | None
) -> int | None:
    """The id of the last profile of a full page (the `limit`-th after `after`), if full."""
    query = _listed(charger_id).with_only_columns(ChargingProfile.profile_id)
    if after is not None:
        query = query.where(ChargingProfile.profile_id < after)
    found: int | None = await session.scalar(query.offset(limit - 1).limit(1))
    return found


async def listed(
    session: AsyncSession, charger_id: int, size: int, after: int | None, through: int | None
) -> Sequence[ChargingProfile]:
    """Up to `size` of a charger's profiles beyond `after`, not beyond `through`."""
    query = _listed(charger_id).limit(size)
    if after is not None:
        query = query.where(ChargingProfile.profile_id < after)
    if through is not None:
        query = query.where(ChargingProfile.profile_id >= through)
    return (await session.scalars(query)).all()

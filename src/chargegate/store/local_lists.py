"""Chargers' local authorization lists: sync state, and the entries each holds."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.local_lists import Entry, ListState
from chargegate.domain.states import ChargerAction, CommandStatus
from chargegate.domain.tokens import Authorization, fold
from chargegate.store.chunks import rows_by
from chargegate.store.models import Charger, Command, IdToken, LocalList, LocalListEntry

_SYNC = ChargerAction.SEND_LOCAL_LIST


async def locked(session: AsyncSession, charger_id: int) -> LocalList | None:
    return await session.get(LocalList, charger_id, with_for_update=True)


async def by_charger_ids(
    session: AsyncSession, charger_ids: Collection[int]
) -> dict[int, LocalList]:
    """The list states of these chargers that have one."""
    return await rows_by(session, LocalList.charger_id, charger_ids)


async def of_operator(session: AsyncSession, operator_id: int) -> Sequence[LocalList]:
    """The lists of the operator's chargers that have one, locked."""
    return (
        await session.scalars(
            select(LocalList)
            .join(Charger, Charger.id == LocalList.charger_id)
            .where(Charger.operator_id == operator_id, LocalList.supported.is_(True))
            .order_by(LocalList.charger_id)
            .with_for_update(of=LocalList)
        )
    ).all()


def added(session: AsyncSession, charger_id: int) -> LocalList:
    """A charger's first list state: nothing sent yet."""
    state = LocalList(
        charger_id=charger_id,
        supported=True,
        state=ListState.PENDING,
        version=0,
        full_needed=True,
        resends=0,
    )
    session.add(state)
    return state


async def sync_waiting(session: AsyncSession, charger_id: int) -> bool:
    """Whether a sync of this charger's list is in the outbox, not sent yet (it reads the
    tokens when it is sent, so it covers any change made before)."""
    found = await session.scalar(
        select(Command.id)
        .where(
            Command.charger_id == charger_id,
            Command.action == _SYNC,
            Command.status == CommandStatus.PENDING,
        )
        .limit(1)
    )
    return found is not None


async def production_tokens(session: AsyncSession, operator_id: int) -> Sequence[IdToken]:
    return (
        await session.scalars(
            select(IdToken).where(IdToken.operator_id == operator_id, IdToken.staging.is_(False))
        )
    ).all()


async def held(session: AsyncSession, charger_id: int) -> list[Entry]:
    rows = await session.scalars(
        select(LocalListEntry).where(LocalListEntry.charger_id == charger_id)
    )
    return [
        Entry(
            id_tag=row.id_tag,
            type=row.type,
            authorization=Authorization(
                verdict=row.verdict,
                expires_at=row.expires_at,
                parent_id_tag=row.parent_id_tag,
                parent_type=row.parent_type,
            ),
        )
        for row in rows
    ]


async def count(session: AsyncSession, charger_id: int) -> int:
    found = await session.scalar(
        select(func.count())
        .select_from(LocalListEntry)
        .where(LocalListEntry.charger_id == charger_id)
    )
    return int(found or 0)


async def clear(session: AsyncSession, charger_id: int) -> None:
    await session.execute(delete(LocalListEntry).where(LocalListEntry.charger_id == charger_id))


async def apply(session: AsyncSession, charger_id: int, entries: Sequence[Entry]) -> None:
    """Entries the charger took: each replaces the one it held, or (without authorization)
    removes it."""
    for entry in entries:
        key = fold(entry.id_tag)
        await session.execute(
            delete(LocalListEntry).where(
                LocalListEntry.charger_id == charger_id, LocalListEntry.id_tag_folded == key
            )
        )
        info = entry.authorization
        if info is not None:
            session.add(
                LocalListEntry(
                    charger_id=charger_id,
                    id_tag_folded=key,
                    id_tag=entry.id_tag,
                    type=entry.type,
                    verdict=info.verdict,
                    expires_at=info.expires_at,
                    parent_id_tag=info.parent_id_tag,
                    parent_type=info.parent_type,
                )
            )
    await session.flush()

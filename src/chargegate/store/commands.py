"""The outbox of commands for chargers: add, claim with a lease, finish."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.states import CommandAction, CommandStatus
from chargegate.store.models import Charger, Command

_OUTSTANDING = (CommandStatus.PENDING.value, CommandStatus.SENDING.value)


async def add_command(
    session: AsyncSession,
    *,
    charger_id: int,
    transaction_id: int,
    action: CommandAction,
    now: datetime,
) -> Command:
    command = Command(
        charger_id=charger_id,
        transaction_id=transaction_id,
        action=action.value,
        status=CommandStatus.PENDING.value,
        created_at=now,
        attempts=0,
    )
    session.add(command)
    await session.flush()
    return command


async def claim_due(
    session: AsyncSession, node_id: str, now: datetime, lease: timedelta, settle: timedelta
) -> Sequence[tuple[Command, Charger]]:
    """Claim the pending commands for chargers connected to this node.

    A command in doubt (sent, then its sender crashed) waits until its charger has been
    connected for `settle`: a charger flushes what it queued while we were away (such as the
    StopTransaction answering that very command) right after it reconnects, and that may make
    sending it again unnecessary.
    """
    await session.execute(
        update(Command)
        .where(Command.status == CommandStatus.SENDING.value, Command.lease_until < now)
        .values(status=CommandStatus.PENDING.value, lease_until=None, in_doubt=True)
    )
    query = (
        select(Command, Charger)
        .join(Charger, Command.charger_id == Charger.id)
        .where(
            Charger.connected_node == node_id,
            Command.status == CommandStatus.PENDING.value,
            or_(Command.in_doubt.is_(False), Charger.connected_at <= now - settle),
        )
        .order_by(Command.id)
        .limit(500)
        .with_for_update(of=Command, skip_locked=True)
    )
    rows = (await session.execute(query)).tuples().all()
    for command, _charger in rows:
        command.status = CommandStatus.SENDING.value
        command.claimed_by = node_id
        command.lease_until = now + lease
        command.attempts += 1
    await session.flush()
    return rows


async def release_node_claims(session: AsyncSession, node_id: str) -> None:
    """At start-up nothing is in flight on this node: its claims go back to the outbox now,
    in doubt, rather than when their lease runs out."""
    await session.execute(
        update(Command)
        .where(Command.claimed_by == node_id, Command.status == CommandStatus.SENDING.value)
        .values(status=CommandStatus.PENDING.value, lease_until=None, in_doubt=True)
    )


async def cancel_for_transaction(
    session: AsyncSession, transaction_id: int, action: CommandAction
) -> None:
    """A command overtaken by events (the charger already did it) must never go out."""
    await session.execute(
        update(Command)
        .where(
            Command.transaction_id == transaction_id,
            Command.action == action.value,
            Command.status.in_(_OUTSTANDING),
        )
        .values(status=CommandStatus.CANCELLED.value)
    )


async def has_outstanding(
    session: AsyncSession, transaction_id: int, action: CommandAction
) -> bool:
    found = await session.scalar(
        select(Command.id).where(
            Command.transaction_id == transaction_id,
            Command.action == action.value,
            Command.status.in_(_OUTSTANDING),
        )
    )
    return found is not None


async def get_command(session: AsyncSession, command_id: int) -> Command | None:
    return await session.get(Command, command_id)

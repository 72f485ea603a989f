"""The outbox of commands for chargers: add, cancel, finish (claims: store.claims)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    case,
    false,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.states import (
    ChargerAction,
    CommandAction,
    CommandStatus,
    TransactionAction,
)
from chargegate.store.chunks import chunks
from chargegate.store.claims import Lease
from chargegate.store.models import Charger, Command, Port, Transaction

_OUTSTANDING = (CommandStatus.PENDING, CommandStatus.SENDING)


def add_command(
    session: AsyncSession,
    *,
    charger_id: int,
    action: CommandAction,
    now: datetime,
    transaction_id: int | None = None,
    connector_id: int | None = None,
    queue_uuid: str | None = None,
    reservation_id: int | None = None,
    params: dict[str, Any] | None = None,
    expires_at: datetime | None = None,
) -> Command:
    command = Command(
        charger_id=charger_id,
        transaction_id=transaction_id,
        connector_id=connector_id,
        queue_uuid=queue_uuid,
        reservation_id=reservation_id,
        action=action,
        status=CommandStatus.PENDING,
        created_at=now,
        attempts=0,
        params=params,
        expires_at=expires_at,
    )
    session.add(command)
    return command


async def add_stops(
    session: AsyncSession, transaction_ids: Sequence[int], now: datetime, lease: Lease | None
) -> list[int]:
    """A stop in the outbox for each of these transactions (a chunk of them: chunks.CHUNK at
    most), in one statement: an expiry wave is thousands of them in one second, and one ORM
    object each would delay the last stop. Stops asked for by the API and at expiry alike are
    written here, through services.stops.request.

    With a lease, the stops for chargers connected to its node are written claimed by it (their
    ids returned, for its dispatcher to send): a wave's stops then reach their chargers without
    a claim pass rewriting thousands of rows first. The others wait in the outbox as usual."""
    columns = Command.__table__.c
    here = false() if lease is None else Charger.connected_node == lease.node_id

    def claimed(value: Any, otherwise: Any, column: Any) -> Any:
        return case((here, literal(value, column.type)), else_=literal(otherwise, column.type))

    written = await session.execute(
        insert(Command)
        .from_select(
            [
                "charger_id",
                "transaction_id",
                "action",
                "status",
                "created_at",
                "attempts",
                "in_doubt",
                "claimed_by",
                "lease_until",
            ],
            select(
                Port.charger_id,
                Transaction.id,
                literal(TransactionAction.STOP, columns.action.type),
                claimed(CommandStatus.SENDING, CommandStatus.PENDING, columns.status),
                literal(now, columns.created_at.type),
                claimed(1, 0, columns.attempts),
                literal(False, columns.in_doubt.type),
                claimed(lease and lease.node_id, None, columns.claimed_by),
                claimed(lease and lease.until, None, columns.lease_until),
            )
            .join(Port, Port.port_uuid == Transaction.port_uuid)
            .join(Charger, Charger.id == Port.charger_id)
            .where(Transaction.id.in_(transaction_ids)),
        )
        .returning(Command.id, Command.status)
    )
    return [row.id for row in written if row.status == CommandStatus.SENDING]


async def cancel(session: AsyncSession, command_ids: Sequence[int]) -> None:
    for chunk in chunks(command_ids):
        await session.execute(
            update(Command).where(Command.id.in_(chunk)).values(status=CommandStatus.CANCELLED),
            execution_options={"synchronize_session": False},
        )


async def mark_delivered(
    session: AsyncSession, command_ids: Sequence[int], result: str, now: datetime
) -> None:
    """Commands the charger accepted, when nothing else hangs on the answer."""
    for chunk in chunks(command_ids):
        await session.execute(
            update(Command)
            .where(Command.id.in_(chunk))
            .values(status=CommandStatus.DONE, sent_at=now, result=result, in_doubt=False),
            execution_options={"synchronize_session": False},
        )


async def cancel_for_transaction(
    session: AsyncSession, transaction_id: int, action: TransactionAction
) -> None:
    """A command overtaken by events (the charger already did it) must never go out."""
    await cancel_for_transactions(session, [transaction_id], [action])


async def cancel_for_transactions(
    session: AsyncSession, transaction_ids: Collection[int], actions: Collection[TransactionAction]
) -> None:
    """cancel_for_transaction, of these actions of many transactions."""
    for chunk in chunks(sorted(set(transaction_ids))):
        await session.execute(
            update(Command)
            .where(
                Command.transaction_id.in_(chunk),
                Command.action.in_(actions),
                Command.status.in_(_OUTSTANDING),
            )
            .values(status=CommandStatus.CANCELLED)
        )


async def has_outstanding(
    session: AsyncSession, transaction_id: int, action: TransactionAction, in_doubt: bool = False
) -> bool:
    """Whether such a command is still to be sent (only one sent before a crash: in_doubt)."""
    query = select(Command.id).where(
        Command.transaction_id == transaction_id,
        Command.action == action,
        Command.status.in_(_OUTSTANDING),
    )
    if in_doubt:
        query = query.where(Command.in_doubt.is_(True))
    return await session.scalar(query.limit(1)) is not None


async def chargers_awaiting(
    session: AsyncSession, operator_id: int, action: ChargerAction
) -> set[int]:
    """The operator's chargers that have such a command not yet sent."""
    query = (
        select(Command.charger_id)
        .join(Charger, Command.charger_id == Charger.id)
        .where(
            Charger.operator_id == operator_id,
            Command.action == action,
            Command.status == CommandStatus.PENDING,
        )
        .distinct()
    )
    return set(await session.scalars(query))


async def get_command(session: AsyncSession, command_id: int) -> Command | None:
    return await session.get(Command, command_id)


async def for_queue_item(session: AsyncSession, queue_uuid: str) -> Command | None:
    """The command on a charger that a queue item follows."""
    return await session.scalar(select(Command).where(Command.queue_uuid == queue_uuid))


async def for_queue_items(
    session: AsyncSession, queue_uuids: Sequence[str]
) -> dict[str, tuple[Command, str]]:
    """The commands these queue items follow, with their charger's id, by queue item."""
    found: dict[str, tuple[Command, str]] = {}
    for chunk in chunks(queue_uuids):
        rows = await session.execute(
            select(Command, Charger.charge_point_id)
            .join(Charger, Charger.id == Command.charger_id)
            .where(Command.queue_uuid.in_(chunk))
        )
        for command, charge_point_id in rows.tuples():
            assert command.queue_uuid is not None  # selected by it
            found[command.queue_uuid] = (command, charge_point_id)
    return found

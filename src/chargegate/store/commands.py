"""The outbox of commands for chargers: add, claim with a lease, finish."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from chargegate.domain.charging_profiles import ChargingLimit, RateUnit
from chargegate.domain.states import (
    ChargerAction,
    CommandAction,
    CommandStatus,
    TransactionAction,
    TransactionState,
)
from chargegate.store.chunks import chunks
from chargegate.store.models import Charger, Command, Port, Reservation, Transaction

_OUTSTANDING = (CommandStatus.PENDING, CommandStatus.SENDING)
# Built once: an alias is a copy of the table's columns, which each claim would make anew.
_EARLIER = aliased(Command, name="earlier")


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


@dataclass(frozen=True, slots=True)
class Lease:
    """A claim taken by `node_id` until `until`: by the dispatcher's claim, or as commands are
    written (add_stops)."""

    node_id: str
    until: datetime


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


# Commands claimed in one database transaction: a whole expiry wave at once, since every
# further claim would queue behind the charger traffic the first one causes.
CLAIM_BATCH = 20_000


@dataclass(frozen=True, slots=True)
class ClaimedTransaction:
    """The transaction a claimed command is for."""

    id: int
    state: TransactionState
    id_tag: str
    charger_transaction_id: str | None
    expires_at: datetime | None
    profile_until: datetime | None
    # The session's own limit (its TxProfile's until expires_at).
    limit: ChargingLimit | None = None
    # Its site balancer's allocation (services.site_balancer), None: not under a site.
    allocated_a: float | None = None


@dataclass(frozen=True, slots=True)
class ClaimedReservation:
    """The reservation a claimed command is for."""

    id: int
    id_tag: str
    parent_id_tag: str | None
    token_type: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed command with what sending it needs, read in one query per batch."""

    command_id: int
    action: CommandAction
    charge_point_id: str
    epoch: int
    smart_charging: bool
    # The transaction's port, or the command's own (None: the whole charger).
    connector_id: int | None
    transaction: ClaimedTransaction | None
    queue_uuid: str | None
    reservation: ClaimedReservation | None = None
    # A command on a charger's params, as stored (domain.command_params.to_json).
    params: dict[str, Any] | None = None
    # Sent before, and its sender crashed before the answer came.
    in_doubt: bool = False


def _written(value: CommandStatus | CommandAction, column: Any) -> Any:
    """A constant of the claim's statements, written into their SQL text rather than bound:
    PostgreSQL plans a prepared statement generically after five runs, and a generic plan does
    not know that PENDING or SENDING commands are few among the DONE ones. It scanned them all,
    some 0.5 s per wake-up with 10,000 sessions; with the value in the text, the index."""
    return literal(value, column.type, literal_execute=True)


_PENDING = _written(CommandStatus.PENDING, Command.status)
_SENDING = _written(CommandStatus.SENDING, Command.status)
_LOCAL_LIST = _written(ChargerAction.SEND_LOCAL_LIST, Command.action)

# The claim's statements, built once: a pass runs them at every wake-up (each start, stop and
# answer), and building these trees again each time cost more than running them. Values are
# bound at execution; `ids` expands to one chunk's ids.
_LEASE_EXPIRED = and_(
    Command.status == _SENDING,
    Command.lease_until < bindparam("now"),
    # This node's own claims are in flight, or their answers wait to be written: under load
    # that can outlast the lease, and must not send the command a second time. A restart
    # releases them (release_node_claims).
    Command.claimed_by != bindparam("node_id"),
)
_RELEASE_EXPIRED = (
    update(Command)
    .where(_LEASE_EXPIRED)
    .values(status=CommandStatus.PENDING, lease_until=None, in_doubt=True)
)
_EARLIER_SYNC = exists().where(
    _EARLIER.charger_id == Command.charger_id,
    _EARLIER.action == _LOCAL_LIST,
    or_(_EARLIER.status == _PENDING, _EARLIER.status == _SENDING),
    _EARLIER.id < Command.id,
)
_DUE_HERE = (
    select(Command.id)
    .join(Charger, Command.charger_id == Charger.id)
    .where(
        Charger.connected_node == bindparam("node_id"),
        Command.status == _PENDING,
        or_(Command.in_doubt.is_(False), Charger.connected_at <= bindparam("settled_since")),
        or_(Command.action != _LOCAL_LIST, ~_EARLIER_SYNC),
    )
)
_CLAIMABLE = select(select(Command.id).where(_LEASE_EXPIRED).exists(), _DUE_HERE.exists())
# The due commands claimed in the statement that finds them (one round trip, not two).
_CLAIM = (
    update(Command)
    .where(
        Command.id.in_(
            _DUE_HERE.order_by(Command.id)
            .limit(CLAIM_BATCH)
            .with_for_update(of=Command, skip_locked=True)
            .correlate(None)
        )
    )
    .values(
        status=CommandStatus.SENDING,
        claimed_by=bindparam("node_id", type_=Command.claimed_by.type),
        lease_until=bindparam("lease_end", type_=Command.lease_until.type),
        attempts=Command.attempts + 1,
    )
    .returning(Command.id)
)
_CLAIMED = (
    select(
        Command.id,
        Command.action,
        Charger.charge_point_id,
        Charger.connection_epoch,
        Charger.smart_charging,
        func.coalesce(Port.connector_id, Command.connector_id).label("connector_id"),
        Command.queue_uuid,
        Command.params,
        Command.in_doubt,
        Transaction.id.label("transaction_id"),
        Transaction.state,
        Transaction.id_tag,
        Transaction.charger_transaction_id,
        Transaction.expires_at,
        Transaction.profile_until,
        Transaction.limit_unit,
        Transaction.limit_value,
        Transaction.allocated_a,
        Reservation.id.label("reservation_id"),
        Reservation.id_tag.label("reserved_for"),
        Reservation.parent_id_tag,
        Reservation.token_type,
        Reservation.expires_at.label("reserved_until"),
    )
    .join(Charger, Command.charger_id == Charger.id)
    .outerjoin(Transaction, Command.transaction_id == Transaction.id)
    .outerjoin(Reservation, Command.reservation_id == Reservation.id)
    .outerjoin(Port, Transaction.port_uuid == Port.port_uuid)
    .where(Command.id.in_(bindparam("ids", expanding=True)))
    .order_by(Command.id)
)
_TAKEN = _CLAIMED.where(Command.status == _SENDING, Command.claimed_by == bindparam("node_id"))


@dataclass(frozen=True, slots=True)
class Claimable:
    """What a claim would find, as a read (beside SQLite's one writer) tells: most wake-ups
    find nothing, and then need no write transaction."""

    # Another node's claims whose lease ran out, to be released (and sent again).
    expired: bool
    # Commands waiting for chargers connected here.
    due: bool


async def claimable(
    session: AsyncSession, node_id: str, now: datetime, settle: timedelta
) -> Claimable:
    row = (
        await session.execute(
            _CLAIMABLE, {"now": now, "node_id": node_id, "settled_since": now - settle}
        )
    ).one()
    return Claimable(expired=bool(row[0]), due=bool(row[1]))


async def claim_due(
    session: AsyncSession, lease: Lease, now: datetime, settle: timedelta, found: Claimable
) -> list[Claimed]:
    """Claim the pending commands for chargers connected to the lease's node; leases of other
    nodes that ran out are released first if `found` (a read just before) saw any.

    A command in doubt (sent, then its sender crashed) waits until its charger has been
    connected for `settle`: a charger flushes what it queued while we were away (such as the
    StopTransaction answering that very command) right after it reconnects, and that may make
    sending it again unnecessary.

    A charger's local-list syncs go one at a time, oldest first: each asks the charger's list
    version and sends from it, which a second one under way would make stale.

    Set-based statements rather than one ORM object per row: an expiry wave claims thousands
    of commands at once, and each is on the path to a charger that must stop on time.
    """
    connection = await session.connection()
    if found.expired:
        await connection.execute(_RELEASE_EXPIRED, {"now": now, "node_id": lease.node_id})
    due = await connection.execute(
        _CLAIM,
        {"node_id": lease.node_id, "settled_since": now - settle, "lease_end": lease.until},
    )
    return await _read(connection, _CLAIMED, sorted(due.scalars()), {})


async def taken(session: AsyncSession, node_id: str, command_ids: Sequence[int]) -> list[Claimed]:
    """Commands written claimed by this node (add_stops with a lease), as claim_due returns
    them; those no longer in its claim (cancelled since: the charger stopped first) left out."""
    connection = await session.connection()
    return await _read(connection, _TAKEN, sorted(command_ids), {"node_id": node_id})


async def _read(
    connection: AsyncConnection, query: Select[Any], ids: list[int], bound: dict[str, Any]
) -> list[Claimed]:
    claimed = []
    for chunk in chunks(ids):
        rows = await connection.execute(query, {"ids": list(chunk), **bound})
        claimed += [
            Claimed(
                command_id=row.id,
                action=row.action,
                charge_point_id=row.charge_point_id,
                epoch=row.connection_epoch,
                smart_charging=bool(row.smart_charging),
                connector_id=row.connector_id,
                queue_uuid=row.queue_uuid,
                params=row.params,
                in_doubt=row.in_doubt,
                transaction=None
                if row.transaction_id is None
                else ClaimedTransaction(
                    id=row.transaction_id,
                    state=row.state,
                    id_tag=row.id_tag,
                    charger_transaction_id=row.charger_transaction_id,
                    expires_at=row.expires_at,
                    profile_until=row.profile_until,
                    limit=None
                    if row.limit_unit is None or row.limit_value is None
                    else ChargingLimit(RateUnit(row.limit_unit), row.limit_value),
                    allocated_a=row.allocated_a,
                ),
                reservation=None
                if row.reservation_id is None
                else ClaimedReservation(
                    id=row.reservation_id,
                    id_tag=row.reserved_for,
                    parent_id_tag=row.parent_id_tag,
                    token_type=row.token_type,
                    expires_at=row.reserved_until,
                ),
            )
            for row in rows
        ]
    return claimed


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


async def release_node_claims(session: AsyncSession, node_id: str) -> None:
    """At start-up nothing is in flight on this node: its claims go back to the outbox now,
    in doubt, rather than when their lease runs out."""
    await session.execute(
        update(Command)
        .where(Command.claimed_by == node_id, Command.status == CommandStatus.SENDING)
        .values(status=CommandStatus.PENDING, lease_until=None, in_doubt=True)
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

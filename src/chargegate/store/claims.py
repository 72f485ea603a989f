"""Claims on the outbox's commands: which commands a node sends, under a lease, read with what
sending them needs (store.commands keeps the outbox itself)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from chargegate.domain.charging_profiles import ChargingLimit, RateUnit
from chargegate.domain.states import (
    ChargerAction,
    CommandAction,
    CommandStatus,
    TransactionState,
)
from chargegate.store.chunks import chunks
from chargegate.store.literals import written
from chargegate.store.models import Charger, Command, Port, Reservation, Transaction

# Built once: an alias is a copy of the table's columns, which each claim would make anew.
_EARLIER = aliased(Command, name="earlier")


@dataclass(frozen=True, slots=True)
class Lease:
    """A claim taken by `node_id` until `until`: by the dispatcher's claim, or as commands are
    written (add_stops)."""

    node_id: str
    until: datetime


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


# In the SQL text: with them bound, a generic plan scanned every DONE command, some 0.5 s per
# wake-up with 10,000 sessions.
_PENDING = written(CommandStatus.PENDING, Command.status)
_SENDING = written(CommandStatus.SENDING, Command.status)
_LOCAL_LIST = written(ChargerAction.SEND_LOCAL_LIST, Command.action)

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


async def release_node_claims(session: AsyncSession, node_id: str) -> None:
    """At start-up nothing is in flight on this node: its claims go back to the outbox now,
    in doubt, rather than when their lease runs out."""
    await session.execute(
        update(Command)
        .where(Command.claimed_by == node_id, Command.status == CommandStatus.SENDING)
        .values(status=CommandStatus.PENDING, lease_until=None, in_doubt=True)
    )

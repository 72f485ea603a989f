"""The API's flows: start, look up, extend and stop charging sessions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.bus import Topic
from chargegate.config import Settings
from chargegate.domain.credentials import new_id_tag
from chargegate.domain.cursors import PageMark
from chargegate.domain.errors import AlreadyEnded, Conflict, NotFound
from chargegate.domain.states import (
    QueueKind,
    QueueStatus,
    TransactionAction,
    TransactionState,
)
from chargegate.domain.times import format_api, utcnow
from chargegate.domain.validation import CreateRequest, ListRequest, PatchRequest
from chargegate.services import fail_safe, idempotency, outcomes, stops
from chargegate.services.commands import offline_reason
from chargegate.services.idempotency import Earlier, Idempotency
from chargegate.services.listing import Keyset, Listing, open_listing
from chargegate.services.runtime import Runtime
from chargegate.services.views import QueuedView, StartedView, TransactionView, transaction_view
from chargegate.store import chargers as charger_store
from chargegate.store import commands as command_store
from chargegate.store import queue_items as queue_store
from chargegate.store import transactions as tx_store
from chargegate.store.models import QueueItem, Transaction


async def create(
    rt: Runtime,
    operator_id: int,
    request: CreateRequest,
    once: Idempotency[StartedView] | None = None,
) -> StartedView | Earlier:
    """The start, or (sent again with its Idempotency-Key) the request that made it; committed
    with the other starts that arrive meanwhile on SQLite (services.api_writes)."""
    started = await rt.node.api_writes.run(partial(_create, rt, operator_id, request, once))
    if not isinstance(started, Earlier):
        rt.bus.wake(Topic.DISPATCH, Topic.SCHEDULE)
    return started


async def _create(
    rt: Runtime,
    operator_id: int,
    request: CreateRequest,
    once: Idempotency[StartedView] | None,
    session: AsyncSession,
) -> StartedView | Earlier:
    now = utcnow()
    claim = await idempotency.claim(session, operator_id, once)
    if isinstance(claim, Earlier):
        return claim
    found = await charger_store.port_to_start(session, operator_id, request.port_uuid)
    if found is None:
        raise NotFound(f"EVSE not found: no port {request.port_uuid} for this API key")
    port, charger, under_a_site = found
    active = await tx_store.active_on_port(session, port.port_uuid, request.staging)
    if active is not None:
        raise Conflict(
            f"Port {port.port_uuid} is busy with transaction {active.transaction_uuid} "
            f"({active.state}); stop it (PATCH state: closed) before starting another"
        )
    if request.id_tag is not None:
        await _one_live_start_per_tag(session, charger.id, request.id_tag, request.staging)
    transaction = Transaction(
        transaction_uuid=str(uuid.uuid4()),
        operator_id=operator_id,
        port_uuid=port.port_uuid,
        staging=request.staging,
        state=TransactionState.PENDING,
        invoice_id=request.invoice_id,
        id_tag=request.id_tag or new_id_tag(),
        created_at=now,
        expires_at=request.expires,
        limit_unit=None if request.limit is None else request.limit.unit,
        limit_value=None if request.limit is None else request.limit.value,
        priority=request.priority,
        # Under a site a start goes out at 0 A; the balancer then gives it room.
        allocated_a=0.0 if under_a_site else None,
    )
    session.add(transaction)
    await session.flush()
    item = _new_item(transaction, QueueKind.START)
    if not request.staging:
        item.deadline_at = now + timedelta(seconds=rt.settings.start_timeout_s)
    session.add(item)
    await session.flush()
    if not request.staging:
        if charger.connected_node is None:
            await outcomes.fail_start(
                session, transaction, offline_reason(charger.charge_point_id, "the start"), now
            )
        else:
            command_store.add_command(
                session,
                charger_id=charger.id,
                transaction_id=transaction.id,
                action=TransactionAction.START,
                now=now,
            )
    started = StartedView(transaction.transaction_uuid, item.queue_uuid)
    await claim.answered(started)
    return started


async def _one_live_start_per_tag(
    session: AsyncSession, charger_id: int, id_tag: str, staging: bool
) -> None:
    """A charger reports the start of our session by its token (1.6 has nothing else), so two
    live starts on one charger with one driver's token could be taken for each other: the
    second is refused until the first has ended."""
    await charger_store.lock(session, charger_id)
    live = await tx_store.live_start_with_tag(session, charger_id, id_tag, staging)
    if live is not None:
        raise Conflict(
            f"id_tag {id_tag} is already starting or charging in transaction "
            f"{live.transaction_uuid} ({live.state}) on this charger; stop it (PATCH state: "
            "closed) or start without id_tag"
        )


async def get(
    rt: Runtime, operator_id: int, transaction_uuid: str, staging: bool
) -> TransactionView:
    async with rt.reads() as session:
        return transaction_view(await _find(session, operator_id, transaction_uuid, staging))


async def list_sessions(
    rt: Runtime, operator_id: int, request: ListRequest
) -> Listing[Transaction, TransactionView, PageMark]:
    """A port's sessions, or a token's (on every port of the operator, or on one)."""

    async def rows(
        session: AsyncSession, after: PageMark | None, through: PageMark | None, size: int
    ) -> Sequence[Transaction]:
        return await tx_store.port_transactions(session, operator_id, request, after, through, size)

    keyset = Keyset(
        rows=rows,
        page_end=partial(tx_store.page_end, operator_id=operator_id, request=request),
        mark=_page_mark,
        start=request.after,
        limit=request.limit,
    )
    async with rt.reads() as session:
        if request.port_uuid is not None and (
            await charger_store.operator_port(
                session, operator_id, request.port_uuid, retired_too=True
            )
            is None
        ):
            raise NotFound(f"EVSE not found: no port {request.port_uuid} for this API key")
        found = await open_listing(rt, session, keyset, transaction_view)
    filtered = request.after or request.since or request.until or request.state or request.id_tag
    # The seed's 404 means the port has no transactions; an empty page or filter result is [].
    if not found.first and not filtered:
        raise NotFound(f"No transactions exist for port {request.port_uuid}")
    return found


def _page_mark(transaction: Transaction) -> PageMark:
    return PageMark(transaction.created_at, transaction.id)


async def modify(
    rt: Runtime,
    operator_id: int,
    transaction_uuid: str,
    request: PatchRequest,
    once: Idempotency[QueuedView | None] | None = None,
) -> QueuedView | Earlier | None:
    """Extend (returns None) or stop (returns the queue item that follows the stop); or, sent
    again with its Idempotency-Key, the request that did."""
    now = utcnow()
    async with rt.sessions() as session, session.begin():
        claim = await idempotency.claim(session, operator_id, once)
        if isinstance(claim, Earlier):
            return claim
        transaction = await _find(
            session, operator_id, transaction_uuid, request.staging, for_update=True
        )
        if transaction.state.ended:
            ended = format_api(transaction.ended_at) or "before it started"
            raise AlreadyEnded(
                f"Transaction {transaction_uuid} has already ended "
                f"({transaction.state}, {ended}); it cannot be modified"
            )
        if request.expires is not None:
            if stops.stuck(transaction):
                await stops.withdraw(session, transaction, now)
            elif transaction.stop_requested_at is not None:
                raise AlreadyEnded(
                    f"Transaction {transaction_uuid} is already being stopped; "
                    "its expiry can no longer be changed"
                )
            transaction.expires_at = request.expires
            commanded = await fail_safe.move(session, transaction, now)
            queued = None
        else:
            item = await _request_stop(session, transaction, now, rt.settings)
            if request.force:
                await stops.abandon(session, transaction, item, now)
            commanded = True
            queued = QueuedView(item.queue_uuid)
        await claim.answered(queued)
    # A new expiry under a site is a new balancer profile. Most extends queue no command: a
    # dispatcher pass for them would find nothing to send.
    rt.bus.wake(Topic.SCHEDULE, Topic.BALANCE, *([Topic.DISPATCH] if commanded else []))
    return queued


async def _request_stop(
    session: AsyncSession, transaction: Transaction, now: datetime, settings: Settings
) -> QueueItem:
    # A stop already under way (asked for before, or at expiry) is the same stop: asking again
    # only brings a retry forward, and the request follows that stop.
    stops.retry_now(transaction, now)
    # A real session's open stop item comes with its stop_requested_at (set together, cleared
    # together by stops.withdraw); a sandbox stop's stays open until its stg_input. Without
    # either, there is none to look for, and the lookup would hold the writer for nothing.
    if transaction.stop_requested_at is not None or transaction.staging:
        in_progress = await queue_store.open_queue_item(session, transaction.id, QueueKind.STOP)
        if in_progress is not None:
            return in_progress
    item = _new_item(transaction, QueueKind.STOP)
    session.add(item)
    if transaction.state == TransactionState.PENDING:
        # Nothing is charging yet: cancel the start instead of asking the charger to stop.
        await outcomes.fail_start(
            session,
            transaction,
            "Cancelled: the transaction was closed (PATCH state: closed) before it started",
            now,
        )
        transaction.state = TransactionState.CLOSED
        transaction.ended_at = now
        transaction.stop_reason = "cancelled"
        await outcomes.resolve(session, item, QueueStatus.SUCCESS, now)
    elif transaction.stop_state is None and not transaction.staging:
        await stops.request(session, [transaction.id], "api", now, settings)
    await session.flush()
    return item


def _new_item(transaction: Transaction, kind: QueueKind) -> QueueItem:
    return QueueItem(
        queue_uuid=str(uuid.uuid4()),
        operator_id=transaction.operator_id,
        transaction_id=transaction.id,
        kind=kind,
        staging=transaction.staging,
        status=QueueStatus.IN_PROGRESS,
        created_at=utcnow(),
    )


async def _find(
    session: AsyncSession,
    operator_id: int,
    transaction_uuid: str,
    staging: bool,
    *,
    for_update: bool = False,
) -> Transaction:
    transaction = await tx_store.operator_transaction(
        session, operator_id, transaction_uuid, staging, for_update=for_update
    )
    if transaction is None:
        raise NotFound(f"Transaction {transaction_uuid} not found")
    return transaction

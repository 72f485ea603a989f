"""Where reservations change state: the charger's answers, its own reports, expiry. Each
change is one webhook event, written with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, assert_never

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.states import QueueStatus, ReservationAction, ReservationState
from chargegate.domain.times import format_api
from chargegate.domain.webhooks import EventType
from chargegate.services import outcomes, webhooks
from chargegate.store import reservations as reservation_store
from chargegate.store.models import Charger, Command, QueueItem, Reservation


@dataclass(frozen=True, slots=True)
class ReservationView:
    reservation_uuid: str
    charge_point_id: str
    port_uuid: str | None
    id_tag: str
    parent_id_tag: str | None
    expires: datetime
    state: ReservationState
    reason: str | None
    created: datetime
    ended: datetime | None
    transaction_uuid: str | None


def reservation_view(reservation: Reservation, charge_point_id: str) -> ReservationView:
    return ReservationView(
        reservation_uuid=reservation.reservation_uuid,
        charge_point_id=charge_point_id,
        port_uuid=reservation.port_uuid,
        id_tag=reservation.id_tag,
        parent_id_tag=reservation.parent_id_tag,
        expires=reservation.expires_at,
        state=reservation.state,
        reason=reservation.reason,
        created=reservation.created_at,
        ended=reservation.ended_at,
        transaction_uuid=reservation.transaction_uuid,
    )


def reservation_data(view: ReservationView) -> dict[str, Any]:
    """A reservation as the API and the webhooks' event data show it."""
    return {
        "reservation_uuid": view.reservation_uuid,
        "charge_point_id": view.charge_point_id,
        "port_uuid": view.port_uuid,
        "id_tag": view.id_tag,
        "parent_id_tag": view.parent_id_tag,
        "expires": format_api(view.expires),
        "state": view.state,
        "reason": view.reason,
        "created": format_api(view.created),
        "ended": format_api(view.ended),
        "transaction_uuid": view.transaction_uuid,
    }


def _event(state: ReservationState) -> EventType | None:
    match state:
        case ReservationState.PENDING:
            return None
        case ReservationState.RESERVED:
            return EventType.RESERVATION_RESERVED
        case ReservationState.FAILED:
            return EventType.RESERVATION_FAILED
        case ReservationState.CANCELLED:
            return EventType.RESERVATION_CANCELLED
        case ReservationState.USED:
            return EventType.RESERVATION_USED
        case ReservationState.EXPIRED:
            return EventType.RESERVATION_EXPIRED
        case _:
            assert_never(state)


async def settle(
    session: AsyncSession,
    reservation: Reservation,
    state: ReservationState,
    now: datetime,
    reason: str | None = None,
) -> None:
    """Moves a reservation that has not ended to `state`; an ended one stays as it ended."""
    if reservation.state.ended or reservation.state == state:
        return
    reservation.state = state
    reservation.reason = reason
    if state.ended:
        reservation.ended_at = now
        await _withdraw(session, reservation, now)
    event = _event(state)
    if event is None:
        return
    charger = await session.get(Charger, reservation.charger_id)
    assert charger is not None
    await webhooks.emit(
        session,
        reservation.operator_id,
        event,
        f"reservation:{reservation.id}",
        reservation_data(reservation_view(reservation, charger.charge_point_id)),
        reservation.staging,
    )


async def _withdraw(session: AsyncSession, reservation: Reservation, now: datetime) -> None:
    """Commands for an ended reservation still in the outbox will not go out; their queue
    items say why (one being sent gets its answer, which resolves its item)."""
    for queue_uuid in await reservation_store.withdraw_pending(session, reservation.id):
        item = await session.get(QueueItem, queue_uuid, with_for_update=True)
        if item is not None and item.status == QueueStatus.IN_PROGRESS:
            await outcomes.resolve(
                session,
                item,
                QueueStatus.FAILURE,
                now,
                f"The reservation ended ({reservation.state}) before the command was sent",
            )


async def answered(
    session: AsyncSession,
    command: Command,
    action: ReservationAction,
    accepted: bool,
    detail: str,
    now: datetime,
) -> None:
    """The charger's answer to a ReserveNow or CancelReservation; a refused cancellation
    leaves the reservation as it was (the queue item says why)."""
    reservation = await reservation_store.for_command(session, command)
    if reservation is None:
        return
    match action:
        case ReservationAction.RESERVE:
            if accepted:
                await settle(session, reservation, ReservationState.RESERVED, now)
            else:
                await settle(session, reservation, ReservationState.FAILED, now, detail)
        case ReservationAction.CANCEL:
            if accepted:
                await settle(session, reservation, ReservationState.CANCELLED, now)
        case _:
            assert_never(action)


async def undelivered(session: AsyncSession, command: Command, why: str, now: datetime) -> None:
    """A ReserveNow that never reached the charger (offline, unanswered): it failed."""
    if command.action is ReservationAction.RESERVE:
        await answered(session, command, ReservationAction.RESERVE, False, why, now)


async def expire_due(session: AsyncSession, now: datetime) -> None:
    for reservation in await reservation_store.due_expiries(session, now):
        await settle(session, reservation, ReservationState.EXPIRED, now)

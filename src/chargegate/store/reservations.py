"""Reservations of ports (or whole chargers) for a token."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.cursors import RowMark
from chargegate.domain.reservations import ReservationsRequest
from chargegate.domain.states import CommandStatus, ReservationState
from chargegate.store.models import Charger, Command, Reservation

_HOLDING = (ReservationState.PENDING, ReservationState.RESERVED)


@dataclass(frozen=True, slots=True)
class Placed:
    """A reservation and the charger it is on."""

    reservation: Reservation
    charge_point_id: str


async def operator_reservation(
    session: AsyncSession,
    operator_id: int,
    reservation_uuid: str,
    staging: bool,
    *,
    for_update: bool = False,
) -> Placed | None:
    query = (
        select(Reservation, Charger.charge_point_id)
        .join(Charger, Reservation.charger_id == Charger.id)
        .where(
            Reservation.reservation_uuid == reservation_uuid,
            Reservation.operator_id == operator_id,
            Reservation.staging == staging,
        )
    )
    if for_update:
        query = query.with_for_update(of=Reservation)
    row = (await session.execute(query)).first()
    return None if row is None else Placed(row.Reservation, row.charge_point_id)


async def holding(
    session: AsyncSession, charger_id: int, port_uuid: str | None, staging: bool
) -> Reservation | None:
    """A reservation still pending or held on this port (None: on the charger as a whole)."""
    return await session.scalar(
        select(Reservation).where(
            Reservation.charger_id == charger_id,
            Reservation.port_uuid.is_(None)
            if port_uuid is None
            else Reservation.port_uuid == port_uuid,
            Reservation.staging == staging,
            Reservation.state.in_(_HOLDING),
        )
    )


async def charger_reservation(
    session: AsyncSession, charger_id: int, reservation_id: int
) -> Reservation | None:
    """The reservation a charger names by its OCPP reservationId."""
    return await session.scalar(
        select(Reservation)
        .where(
            Reservation.id == reservation_id,
            Reservation.charger_id == charger_id,
            Reservation.staging.is_(False),
        )
        .with_for_update()
    )


def expiring() -> tuple[ColumnElement[bool], ...]:
    """Reservations that expire at their `expires_at`."""
    return (Reservation.state.in_(_HOLDING),)


async def due_expiries(session: AsyncSession, now: datetime) -> Sequence[Reservation]:
    return (
        await session.scalars(
            select(Reservation)
            .where(*expiring(), Reservation.expires_at <= now)
            .order_by(Reservation.id)
            .with_for_update(skip_locked=True)
        )
    ).all()


async def for_command(session: AsyncSession, command: Command) -> Reservation | None:
    if command.reservation_id is None:
        return None
    return await session.get(Reservation, command.reservation_id, with_for_update=True)


def _listed(operator_id: int, request: ReservationsRequest, *columns: Any) -> Select[Any]:
    query = (
        select(*columns)
        .join(Charger, Reservation.charger_id == Charger.id)
        .where(Reservation.operator_id == operator_id, Reservation.staging == request.staging)
        .order_by(Reservation.id.desc())
    )
    if request.port_uuid is not None:
        query = query.where(Reservation.port_uuid == request.port_uuid)
    if request.state is not None:
        query = query.where(Reservation.state == request.state)
    return query


async def page_end(
    session: AsyncSession, operator_id: int, request: ReservationsRequest
) -> RowMark | None:
    """The last reservation of a full page (the `limit`-th), None if the page is not full."""
    assert request.limit > 0
    query = _listed(operator_id, request, Reservation.id)
    if request.after is not None:
        query = query.where(Reservation.id < request.after.row_id)
    found = await session.scalar(query.offset(request.limit - 1).limit(1))
    return None if found is None else RowMark(found)


async def listed(
    session: AsyncSession,
    operator_id: int,
    request: ReservationsRequest,
    size: int,
    after: RowMark | None,
    through: RowMark | None,
) -> list[Placed]:
    """Up to `size` of the listed reservations, newest first, older than `after` and not older
    than `through`."""
    query = _listed(operator_id, request, Reservation, Charger.charge_point_id).limit(size)
    if after is not None:
        query = query.where(Reservation.id < after.row_id)
    if through is not None:
        query = query.where(Reservation.id >= through.row_id)
    return [Placed(row.Reservation, row.charge_point_id) for row in await session.execute(query)]


async def withdraw_pending(session: AsyncSession, reservation_id: int) -> list[str]:
    """Cancels the reservation's commands still in the outbox; returns their queue items.
    Neither read nor write locks a command being sent: its answer's writer holds it, and then
    waits for this reservation, so taking it here would deadlock with that writer."""
    found = (
        await session.execute(
            select(Command.id, Command.queue_uuid).where(
                Command.reservation_id == reservation_id,
                Command.status == CommandStatus.PENDING,
            )
        )
    ).all()
    if not found:
        return []
    await session.execute(
        update(Command)
        .where(Command.id.in_([row.id for row in found]), Command.status == CommandStatus.PENDING)
        .values(status=CommandStatus.CANCELLED),
        execution_options={"synchronize_session": False},
    )
    return [row.queue_uuid for row in found if row.queue_uuid is not None]

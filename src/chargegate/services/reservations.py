"""The API's reservations: hold a port (or any port of a charger) for a token, look them up,
cancel them. Talking to the charger goes through the outbox, as every command does."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial

from chargegate.bus import Topic
from chargegate.domain.cursors import RowMark
from chargegate.domain.errors import Conflict, InvalidArgument, NotFound
from chargegate.domain.reservations import (
    ReservationCreate,
    ReservationsRequest,
    check_tokens_fit,
)
from chargegate.domain.states import ReservationAction, ReservationState
from chargegate.domain.times import format_api, utcnow
from chargegate.domain.tokens import TokenType, UnknownTokens, Verdict, verdict
from chargegate.services import charger_commands, idempotency
from chargegate.services.connectors import STATION
from chargegate.services.idempotency import Earlier, Idempotency
from chargegate.services.listing import Keyset, Listing, open_listing
from chargegate.services.reservation_outcomes import ReservationView, reservation_view
from chargegate.services.runtime import Runtime
from chargegate.services.views import QueuedView
from chargegate.store import chargers as charger_store
from chargegate.store import id_tokens as token_store
from chargegate.store import operators as operator_store
from chargegate.store import reservations as reservation_store
from chargegate.store.database import AsyncSession
from chargegate.store.models import Charger, Port, Reservation
from chargegate.store.reservations import Placed


@dataclass(frozen=True, slots=True)
class ReservedView:
    """A reservation asked for: it, and the queue item that follows its ReserveNow."""

    reservation_uuid: str
    queue_uuid: str


def _missing(reservation_uuid: str) -> NotFound:
    return NotFound(f"Reservation {reservation_uuid} not found for this API key")


async def create(
    rt: Runtime,
    operator_id: int,
    request: ReservationCreate,
    once: Idempotency[ReservedView] | None = None,
) -> ReservedView | Earlier:
    """The reservation and its ReserveNow, in one transaction; or, sent again with its
    Idempotency-Key, the request that made them."""
    now = utcnow()
    async with rt.sessions() as session, session.begin():
        claim = await idempotency.claim(session, operator_id, once)
        if isinstance(claim, Earlier):
            return claim
        charger, port = await _place(session, operator_id, request)
        check_tokens_fit(request, charger.ocpp_version or charger.ocpp_protocol)
        port_uuid = None if port is None else port.port_uuid
        held = await reservation_store.holding(session, charger.id, port_uuid, request.staging)
        if held is not None:
            raise Conflict(
                f"{'Port ' + port_uuid if port_uuid else 'Charger ' + charger.charge_point_id} "
                f"is already reserved ({held.reservation_uuid}, {held.state}); cancel that "
                "reservation first"
            )
        reservation = Reservation(
            reservation_uuid=str(uuid.uuid4()),
            operator_id=operator_id,
            charger_id=charger.id,
            port_uuid=port_uuid,
            staging=request.staging,
            id_tag=request.id_tag,
            token_type=await _token_type(session, charger, request),
            parent_id_tag=request.parent_id_tag,
            expires_at=request.expires,
            state=ReservationState.PENDING,
            created_at=now,
        )
        session.add(reservation)
        await session.flush()
        item = await charger_commands.enqueue(
            session,
            rt,
            charger,
            ReservationAction.RESERVE,
            request.staging,
            now,
            "the reservation",
            # The charge point as a whole: 1.6 connectorId 0, 2.0.1 no evseId.
            connector_id=STATION if port is None else port.connector_id,
            reservation_id=reservation.id,
        )
        reserved = ReservedView(reservation.reservation_uuid, item.queue_uuid)
        await claim.answered(reserved)
    rt.bus.wake(Topic.DISPATCH, Topic.SCHEDULE)
    return reserved


async def _place(
    session: AsyncSession, operator_id: int, request: ReservationCreate
) -> tuple[Charger, Port | None]:
    if request.port_uuid is not None:
        found = await charger_store.operator_port(
            session, operator_id, request.port_uuid, for_update=True
        )
        if found is None:
            raise NotFound(f"EVSE not found: no port {request.port_uuid} for this API key")
        port, charger = found
        return charger, port
    assert request.charge_point_id is not None
    whole = await charger_store.operator_charger(session, operator_id, request.charge_point_id)
    if whole is None:
        raise NotFound(f"Charger not found: no charger {request.charge_point_id} for this API key")
    return whole, None


async def _token_type(
    session: AsyncSession, charger: Charger, request: ReservationCreate
) -> TokenType:
    """The token's type for 2.0.1 (Central for one not in the registry). A token the charger
    would be told to refuse cannot hold a port: the driver could never use it."""
    token = await token_store.find(session, charger.operator_id, request.staging, request.id_tag)
    if token is None:
        operator = await operator_store.operator(session, charger.operator_id)
        if (charger.unknown_tokens or operator.unknown_tokens) is UnknownTokens.REJECT:
            raise InvalidArgument(
                f"id_tag '{request.id_tag}' is not in this operator's token registry "
                "(/1.2/tokens): chargers would refuse it"
            )
        return TokenType.CENTRAL
    found = verdict(token.status, token.expires_at, utcnow())
    if found is not Verdict.ACCEPTED:
        raise InvalidArgument(f"id_tag '{request.id_tag}' is {found}: chargers would refuse it")
    if token.expires_at is not None and token.expires_at < request.expires:
        raise InvalidArgument(
            f"id_tag '{request.id_tag}' expires at {format_api(token.expires_at)}, before the "
            "reservation would"
        )
    return token.type


async def get(
    rt: Runtime, operator_id: int, reservation_uuid: str, staging: bool
) -> ReservationView:
    async with rt.reads() as session:
        placed = await reservation_store.operator_reservation(
            session, operator_id, reservation_uuid, staging
        )
    if placed is None:
        raise _missing(reservation_uuid)
    return _view(placed)


def _view(placed: Placed) -> ReservationView:
    return reservation_view(placed.reservation, placed.charge_point_id)


async def cancel(
    rt: Runtime,
    operator_id: int,
    reservation_uuid: str,
    staging: bool,
    once: Idempotency[QueuedView] | None = None,
) -> QueuedView | Earlier:
    """The queue item that follows the CancelReservation; the reservation is cancelled once
    the charger accepts it."""
    now = utcnow()
    async with rt.sessions() as session, session.begin():
        claim = await idempotency.claim(session, operator_id, once)
        if isinstance(claim, Earlier):
            return claim
        placed = await reservation_store.operator_reservation(
            session, operator_id, reservation_uuid, staging, for_update=True
        )
        if placed is None:
            raise _missing(reservation_uuid)
        reservation = placed.reservation
        if reservation.state.ended:
            raise Conflict(
                f"Reservation {reservation_uuid} has already ended ({reservation.state}, "
                f"{format_api(reservation.ended_at)}); it cannot be cancelled"
            )
        if reservation.state is ReservationState.PENDING:
            raise Conflict(
                f"Reservation {reservation_uuid} is still being sent to the charger; cancel it "
                "once it is reserved (or failed)"
            )
        charger = await charger_store.get_charger(session, placed.charge_point_id)
        assert charger is not None
        item = await charger_commands.enqueue(
            session,
            rt,
            charger,
            ReservationAction.CANCEL,
            staging,
            now,
            "the cancellation",
            reservation_id=reservation.id,
        )
        queued = QueuedView(item.queue_uuid)
        await claim.answered(queued)
    rt.bus.wake(Topic.DISPATCH, Topic.SCHEDULE)
    return queued


async def list_reservations(
    rt: Runtime, operator_id: int, request: ReservationsRequest
) -> Listing[Placed, ReservationView, RowMark]:
    async def rows(
        session: AsyncSession, after: RowMark | None, through: RowMark | None, size: int
    ) -> list[Placed]:
        return await reservation_store.listed(session, operator_id, request, size, after, through)

    keyset = Keyset(
        rows=rows,
        page_end=partial(reservation_store.page_end, operator_id=operator_id, request=request),
        mark=lambda placed: RowMark(placed.reservation.id),
        start=request.after,
        limit=request.limit,
    )
    async with rt.reads() as session:
        if (
            request.port_uuid is not None
            and await charger_store.operator_port(
                session, operator_id, request.port_uuid, retired_too=True
            )
            is None
        ):
            raise NotFound(f"EVSE not found: no port {request.port_uuid} for this API key")
        return await open_listing(rt, session, keyset, _view)

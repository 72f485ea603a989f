"""What chargers report about reservations: a session that used one (1.6 StartTransaction,
2.0.1 TransactionEvent with reservationId), and 2.0.1 ReservationStatusUpdate."""

from __future__ import annotations

import logging

from chargegate.domain.states import ReservationState
from chargegate.domain.times import utcnow
from chargegate.services import reservation_outcomes
from chargegate.services.runtime import Runtime
from chargegate.store import chargers as charger_store
from chargegate.store import reservations as reservation_store
from chargegate.store.models import Transaction

log = logging.getLogger(__name__)


async def used(rt: Runtime, charge_point_id: str, reservation_id: int, transaction_id: int) -> None:
    """A session began with the reservation: it has ended, used by that session. The charger
    decided the token (or its group) may use it; a repeated report changes nothing."""
    async with rt.sessions() as session, session.begin():
        charger = await charger_store.registered(session, charge_point_id)
        reservation = await reservation_store.charger_reservation(
            session, charger.id, reservation_id
        )
        if reservation is None:
            log.warning(
                "a session names a reservation we do not have",
                extra={"charge_point_id": charge_point_id, "reservation_id": reservation_id},
            )
            return
        if reservation.state.ended:
            return
        transaction = await session.get(Transaction, transaction_id)
        if transaction is not None:
            reservation.transaction_uuid = transaction.transaction_uuid
        await reservation_outcomes.settle(session, reservation, ReservationState.USED, utcnow())


async def status_update(
    rt: Runtime, charge_point_id: str, reservation_id: int, expired: bool
) -> None:
    """2.0.1 ReservationStatusUpdate: the station let the reservation expire, or removed it."""
    async with rt.sessions() as session, session.begin():
        charger = await charger_store.registered(session, charge_point_id)
        reservation = await reservation_store.charger_reservation(
            session, charger.id, reservation_id
        )
        if reservation is None:
            return
        if expired:
            await reservation_outcomes.settle(
                session, reservation, ReservationState.EXPIRED, utcnow()
            )
        else:
            await reservation_outcomes.settle(
                session,
                reservation,
                ReservationState.CANCELLED,
                utcnow(),
                "Removed at the charger (ReservationStatusUpdate: Removed)",
            )

"""The stops chargers report, many to one write transaction: an expiry wave makes thousands of
chargers send StopTransaction within a second, and one transaction each kept the single SQLite
writer (and the claims and answers waiting on it) busy for seconds."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.reports import StopReport
from chargegate.domain.states import TransactionState
from chargegate.domain.times import utcnow
from chargegate.services import outcomes
from chargegate.store import chargers as charger_store
from chargegate.store import transactions as tx_store
from chargegate.store.database import SessionFactory

log = logging.getLogger(__name__)


async def write_stops(sessions: SessionFactory, batch: list[StopReport]) -> None:
    """One transaction for the batch. A failing stop fails the batch, which the group commit
    then writes stop by stop, so that only its own caller sees the error."""
    async with sessions() as session, session.begin():
        for stop in batch:
            await _store_stop(session, stop)


async def _store_stop(session: AsyncSession, stop: StopReport) -> None:
    charger = await charger_store.registered(session, stop.charge_point_id)
    transaction = await tx_store.charger_transaction_by_id(session, charger.id, stop.reference)
    if transaction is None:
        log.warning(
            "stop for an unknown transaction",
            extra={"charge_point_id": stop.charge_point_id, "transaction": stop.reference},
        )
    elif transaction.state != TransactionState.OPEN:
        outcomes.complete_stop(transaction, stop.at, stop.meter_stop_wh, stop.reason)
    else:
        transaction.charger_stop_reason = stop.reason
        await outcomes.close_transaction(
            session,
            transaction,
            stop.at,
            stop.meter_stop_wh,
            f"charger:{stop.reason}",
            utcnow(),
        )

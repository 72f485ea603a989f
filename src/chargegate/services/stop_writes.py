"""The stops chargers report, many to one write transaction: an expiry wave makes thousands of
chargers send StopTransaction within a second, and one transaction each kept the single SQLite
writer (and the claims and answers waiting on it) busy for seconds."""

from __future__ import annotations

import logging

from chargegate.domain.reports import StopReport
from chargegate.domain.states import TransactionState
from chargegate.domain.times import utcnow
from chargegate.services import outcomes
from chargegate.store import chargers as charger_store
from chargegate.store import transactions as tx_store
from chargegate.store.database import SessionFactory

log = logging.getLogger(__name__)


async def write_stops(sessions: SessionFactory, batch: list[StopReport]) -> None:
    """One transaction and a few statements for the batch, each stop stored as if alone and in
    turn (a charger's repeat of its stop finds the transaction its first closed). A failing stop
    fails the batch, which the group commit then writes stop by stop, so that only its own
    caller sees the error."""
    async with sessions() as session, session.begin():
        chargers = await charger_store.chargers_by_id(session, {s.charge_point_id for s in batch})
        unknown = {stop.charge_point_id for stop in batch} - chargers.keys()
        if unknown:
            raise LookupError(f"chargers {sorted(unknown)!r} are not registered")
        named = [(chargers[stop.charge_point_id].id, stop.reference) for stop in batch]
        transactions = await tx_store.charger_transactions_by_ids(session, named)
        closing = await outcomes.closing(
            session,
            [t for t in transactions.values() if t.state == TransactionState.OPEN],
            utcnow(),
        )
        for stop, key in zip(batch, named, strict=True):
            transaction = transactions.get(key)
            if transaction is None:
                log.warning(
                    "stop for an unknown transaction",
                    extra={"charge_point_id": stop.charge_point_id, "transaction": stop.reference},
                )
            elif transaction.state != TransactionState.OPEN:
                outcomes.complete_stop(transaction, stop.at, stop.meter_stop_wh, stop.reason)
            else:
                transaction.charger_stop_reason = stop.reason
                closing.close(transaction, stop.at, stop.meter_stop_wh, f"charger:{stop.reason}")
        await closing.finish()

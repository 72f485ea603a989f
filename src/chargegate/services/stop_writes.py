"""The stops chargers report, many to one write transaction: an expiry wave makes thousands of
chargers send StopTransaction within a second, and one transaction each kept the single SQLite
writer (and the claims and answers waiting on it) busy for seconds."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.reports import StopReport
from chargegate.domain.states import TransactionState
from chargegate.domain.times import utcnow
from chargegate.services import outcomes
from chargegate.store import chargers as charger_store
from chargegate.store import transactions as tx_store
from chargegate.store.chunks import chunks
from chargegate.store.database import SessionFactory

log = logging.getLogger(__name__)


# Stops per round of statements. The loop gets its turns between statements (SQLite's writer
# runs them on the loop's thread: store/sqlite_inline.py); the work of a round in between (its
# rows read and written through the ORM, its stops gone through) stays within milliseconds.
ROUND = 200


async def write_stops(sessions: SessionFactory, batch: list[StopReport]) -> None:
    """One transaction for the batch, a few statements for each round of it, each stop stored
    as if alone and in turn (a charger's repeat of its stop finds the transaction its first
    closed). A failing stop fails the batch, which the group commit then writes stop by stop,
    so that only its own caller sees the error."""
    async with sessions() as session, session.begin():
        for stops in chunks(batch, ROUND):
            await _store_stops(session, stops)


async def _store_stops(session: AsyncSession, stops: Sequence[StopReport]) -> None:
    wanted = {stop.charge_point_id for stop in stops}
    chargers = await charger_store.chargers_by_id(session, wanted)
    if unknown := wanted - chargers.keys():
        raise LookupError(f"chargers {sorted(unknown)!r} are not registered")
    named = [(chargers[stop.charge_point_id].id, stop.reference) for stop in stops]
    transactions = await tx_store.charger_transactions_by_ids(session, named)
    closing = await outcomes.closing(
        session,
        [t for t in transactions.values() if t.state == TransactionState.OPEN],
        utcnow(),
    )
    for stop, key in zip(stops, named, strict=True):
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

"""Chargers' meter readings for their open transactions, one statement each.

MeterValues are the message a fleet sends most (every charging connector, every sample
interval), so a reading is one statement: no read of the charger or the transaction first, the
energy register and the measured draw together, and many chargers' readings go in one
executemany. The statements are built once, so each reading only binds its values to
SQLAlchemy's compiled form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, assert_never

from sqlalchemy import ColumnElement, Float, Integer, String, Update, bindparam, func, or_, select
from sqlalchemy import update as update_of
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.states import TransactionState
from chargegate.store.chunks import rounds
from chargegate.store.literals import written
from chargegate.store.models import Charger, Port, Transaction
from chargegate.store.transactions import newest_on_charger

# The reporting charger's row id, by the id it connected with.
_CHARGER = (
    select(Charger.id)
    .where(Charger.charge_point_id == bindparam("charge_point_id", type_=String))
    .scalar_subquery()
)


# In the SQL text, so that a generic plan finds a port's open transaction by its own index.
_OPEN = written(TransactionState.OPEN, Transaction.state)


def _reading(*matches: ColumnElement[bool]) -> Update:
    newest = newest_on_charger(_CHARGER, *matches).with_only_columns(Transaction.id)
    # A value the message does not carry (None) leaves the stored one as it is.
    energy = func.coalesce(bindparam("energy_wh", type_=Integer), Transaction.meter_last_wh)
    current = func.coalesce(bindparam("current_a", type_=Float), Transaction.measured_current_a)
    power = func.coalesce(bindparam("power_w", type_=Float), Transaction.measured_power_w)
    return (
        update_of(Transaction)
        .where(
            Transaction.id == newest.scalar_subquery(),
            Transaction.state == _OPEN,
            # A repeated reading is not a write (no row lock, no WAL page on SQLite).
            or_(
                Transaction.meter_last_wh.is_distinct_from(energy),
                Transaction.measured_current_a.is_distinct_from(current),
                Transaction.measured_power_w.is_distinct_from(power),
            ),
        )
        .values(meter_last_wh=energy, measured_current_a=current, measured_power_w=power)
    )


# By our id (OCPP 1.6 transactionId), or by the 2.0.1 station's own transaction id.
_BY_OUR_ID = _reading(Transaction.id == bindparam("reference", type_=Integer))
_BY_CHARGER_ID = _reading(
    Transaction.charger_transaction_id == bindparam("reference", type_=String)
)
# By its port (2.0.1 MeterValues name an EVSE, not a transaction): the open one there.
_BY_PORT = _reading(
    Port.connector_id == bindparam("reference", type_=Integer),
    Transaction.state == _OPEN,
)


@dataclass(frozen=True, slots=True)
class OnPort:
    """A reading for the transaction open on a port (2.0.1 MeterValues name an EVSE)."""

    connector_id: int


@dataclass(frozen=True, slots=True)
class Reading:
    """What a charger read for its transaction `reference` (our id, the 2.0.1 station's own
    id, or the one open on a port); None: not read."""

    charge_point_id: str
    reference: int | str | OnPort
    energy_wh: int | None
    current_a: float | None
    power_w: float | None


def _bound(reading: Reading) -> tuple[Update, dict[str, Any]]:
    bound: int | str
    match reading.reference:
        case OnPort(connector_id):
            statement, bound = _BY_PORT, connector_id
        case str() as reference:
            statement, bound = _BY_CHARGER_ID, reference
        case int() as reference:
            statement, bound = _BY_OUR_ID, reference
        case _:
            assert_never(reading.reference)
    return statement, {
        "charge_point_id": reading.charge_point_id,
        "reference": bound,
        "energy_wh": reading.energy_wh,
        "current_a": reading.current_a,
        "power_w": reading.power_w,
    }


async def record_readings(session: AsyncSession, readings: Sequence[Reading]) -> None:
    """Keeps each reading on its charger's transaction if that is open (a reference to no open
    transaction of the charger changes nothing), each charger's in the order given. Written in
    rounds of at most one reading per charger, a round one executemany for each way its
    readings name their transaction: a fleet's readings name them all three ways, interleaved,
    so a statement for each run of alike readings would be one (and a turn of a busy event
    loop) for almost every reading."""
    connection = await session.connection()
    # Only one charger's readings can name a transaction, so each charger's order is all the
    # order that matters.
    for round_ in rounds(readings, attrgetter("charge_point_id")):
        alike: dict[Update, list[dict[str, Any]]] = {}
        for statement, values in map(_bound, round_):
            alike.setdefault(statement, []).append(values)
        # Core execution: the ORM's bulk-update path would look for the rows in the session to
        # synchronise, and there are none.
        for statement, rows in alike.items():
            await connection.execute(statement, rows)

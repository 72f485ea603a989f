"""A charger's meter readings for one of its open transactions, written in one statement.

MeterValues are the message a fleet sends most (every charging connector, every sample
interval), so a reading is one round trip to the database: no read of the charger or the
transaction first, the energy register and the measured draw together. The statements are built
once, so each reading only binds its values to SQLAlchemy's compiled form.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, String, Update, bindparam, func, or_, select
from sqlalchemy import update as update_of
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.states import TransactionState
from chargegate.store.models import Charger, Port, Transaction


def _reading(reference_matches: ColumnElement[bool]) -> Update:
    # The newest match, as the lookup by reference picks it: a station may reuse its own
    # transaction ids over time.
    newest = (
        select(Transaction.id)
        .join(Port, Transaction.port_uuid == Port.port_uuid)
        .join(Charger, Charger.id == Port.charger_id)
        .where(
            Charger.charge_point_id == bindparam("charge_point_id", type_=String),
            Transaction.staging.is_(False),
            reference_matches,
        )
        .order_by(Transaction.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    # A value the message does not carry (None) leaves the stored one as it is.
    energy = func.coalesce(bindparam("energy_wh", type_=Integer), Transaction.meter_last_wh)
    current = func.coalesce(bindparam("current_a", type_=Float), Transaction.measured_current_a)
    power = func.coalesce(bindparam("power_w", type_=Float), Transaction.measured_power_w)
    return (
        update_of(Transaction)
        .where(
            Transaction.id == newest,
            Transaction.state == TransactionState.OPEN,
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


async def record_reading(
    session: AsyncSession,
    charge_point_id: str,
    reference: int | str,
    *,
    energy_wh: int | None,
    current_a: float | None,
    power_w: float | None,
) -> None:
    """Keeps the readings given (None: not read) on the charger's transaction `reference` if it
    is open; a reference to no open transaction of this charger changes nothing."""
    statement = _BY_CHARGER_ID if isinstance(reference, str) else _BY_OUR_ID
    values: dict[str, Any] = {
        "charge_point_id": charge_point_id,
        "reference": reference,
        "energy_wh": energy_wh,
        "current_a": current_a,
        "power_w": power_w,
    }
    # Core execution: the ORM's bulk-update path would look for the rows in the session to
    # synchronise, and there are none.
    await (await session.connection()).execute(statement, values)

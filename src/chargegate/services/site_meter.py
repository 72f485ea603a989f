"""What sessions draw, from their chargers' MeterValues (Current.Import, Power.Active.Import):
the measured load a site shows (services.sites)."""

from __future__ import annotations

from chargegate.domain.sites import Draw
from chargegate.domain.states import TransactionState
from chargegate.services.runtime import Runtime
from chargegate.store import chargers as charger_store
from chargegate.store import transactions as tx_store
from chargegate.store.models import Transaction


def _keep(transaction: Transaction | None, draw: Draw) -> None:
    if transaction is None or transaction.state != TransactionState.OPEN:
        return
    if draw.current_a is not None:
        transaction.measured_current_a = draw.current_a
    if draw.power_w is not None:
        transaction.measured_power_w = draw.power_w


async def session_draw(rt: Runtime, charge_point_id: str, reference: int | str, draw: Draw) -> None:
    """A reading for a transaction (1.6 transactionId, 2.0.1 the charger's transactionId)."""
    async with rt.sessions() as session, session.begin():
        charger = await charger_store.registered(session, charge_point_id)
        _keep(await tx_store.charger_transaction_by_id(session, charger.id, reference), draw)


async def port_draw(rt: Runtime, charge_point_id: str, connector_id: int, draw: Draw) -> None:
    """A reading for a port (2.0.1 MeterValues): its open transaction's, if it has one."""
    async with rt.sessions() as session, session.begin():
        charger = await charger_store.registered(session, charge_point_id)
        ports = await charger_store.charger_ports(session, charger.id)
        port = next((p for p in ports if p.connector_id == connector_id), None)
        if port is not None:
            _keep(await tx_store.open_on_port(session, port.port_uuid), draw)

"""Charging profiles the operator sets: what a command needs from the database before it goes
out (a TxProfile names the port's running transaction as the charger knows it)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.charging_profiles import Purpose, SetProfileParams
from chargegate.domain.command_params import OCPP16, CommandParams
from chargegate.domain.errors import Conflict
from chargegate.store import chargers as charger_store
from chargegate.store import transactions as tx_store
from chargegate.store.models import Charger


async def with_transaction(
    session: AsyncSession, charger: Charger, params: CommandParams
) -> CommandParams:
    """A TxProfile without a transaction_id gets the one running on its port (1.6: our id,
    2.0.1: the charger's); Conflict when none runs, as the charger would refuse it."""
    if (
        not isinstance(params, SetProfileParams)
        or params.purpose is not Purpose.TX
        or params.transaction_id is not None
    ):
        return params
    ports = await charger_store.charger_ports(session, charger.id)
    port = next((p for p in ports if p.connector_id == params.port), None)
    transaction = None if port is None else await tx_store.open_on_port(session, port.port_uuid)
    named = None
    if transaction is not None:
        v16 = charger.ocpp_version == OCPP16
        named = str(transaction.id) if v16 else transaction.charger_transaction_id
    if named is None:
        raise Conflict(
            f"Port {params.port} of charger {charger.charge_point_id} has no running "
            "transaction: a TxProfile is for one (start a transaction, or set a "
            "TxDefaultProfile)"
        )
    assert transaction is not None
    # It ends at the session's expiry, where the start's fail-safe cut (below it) takes over.
    valid_to = params.valid_to or transaction.expires_at
    return replace(params, transaction_id=named, valid_to=valid_to)

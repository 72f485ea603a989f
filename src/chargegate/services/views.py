"""How transactions and ports look from outside: the API's bodies and the webhooks' event data."""

from __future__ import annotations

from typing import Any

from chargegate.domain.states import TransactionState
from chargegate.domain.times import format_api
from chargegate.store.models import Charger, Port, Transaction


def transaction_view(transaction: Transaction) -> dict[str, Any]:
    return {
        "transaction_uuid": transaction.transaction_uuid,
        "port_uuid": transaction.port_uuid,
        "state": transaction.state,
        "started": format_api(transaction.started_at),
        "ended": format_api(transaction.ended_at),
        "expires": format_api(transaction.expires_at),
        "invoice_id": transaction.invoice_id,
        "energy_wh": energy_wh(transaction),
        "stop": stop_view(transaction),
    }


def stop_view(transaction: Transaction) -> dict[str, Any] | None:
    if transaction.state != TransactionState.OPEN or transaction.stop_state is None:
        return None
    return {
        "state": transaction.stop_state,
        "requested": format_api(transaction.stop_requested_at),
        "attempts": transaction.stop_attempts,
        "last_error": transaction.stop_error,
        "next_step": format_api(transaction.stop_retry_at),
    }


def energy_wh(transaction: Transaction) -> int | None:
    if transaction.meter_start_wh is None:
        return None
    last = (
        transaction.meter_stop_wh
        if transaction.meter_stop_wh is not None
        else transaction.meter_last_wh
    )
    return None if last is None else max(0, last - transaction.meter_start_wh)


def port_view(row: tuple[Port, Charger]) -> dict[str, Any]:
    port, charger = row
    return {
        "port_uuid": port.port_uuid,
        "charge_point_id": charger.charge_point_id,
        "connector_id": port.connector_id,
        "status": port.status,
        "online": charger.connected_node is not None,
    }

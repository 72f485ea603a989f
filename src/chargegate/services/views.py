"""What the services show of transactions, queue items and ports: plain values read from the
stored rows inside the services, so that the API never holds a database object. The API turns
them into its bodies (api/bodies.py); the webhooks' event data shows a transaction the same way
(`transaction_data`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chargegate.domain.states import TransactionState
from chargegate.domain.times import format_api
from chargegate.store.models import Charger, Command, Port, QueueItem, Transaction


@dataclass(frozen=True, slots=True)
class StopView:
    """A stop under way: whether (and why) it did not take yet, and when it is tried next."""

    state: str
    requested: datetime | None
    attempts: int
    last_error: str | None
    next_step: datetime | None


@dataclass(frozen=True, slots=True)
class TransactionView:
    transaction_uuid: str
    port_uuid: str
    state: str
    started: datetime | None
    ended: datetime | None
    expires: datetime | None
    invoice_id: str | None
    energy_wh: int | None
    stop: StopView | None
    # The token the charger runs the session on: the driver's, or one generated for an API start.
    id_tag: str
    origin: str
    # The charger's reason for the end; None while the session runs, or when it was closed
    # without the charger's word (cancelled before it began, a stop given up on).
    stop_reason: str | None


@dataclass(frozen=True, slots=True)
class StartedView:
    """A start accepted: its transaction, and the queue item that follows the start."""

    transaction_uuid: str
    queue_uuid: str


@dataclass(frozen=True, slots=True)
class QueuedView:
    """A request sent on to a charger (a stop, a command): the queue item that follows it."""

    queue_uuid: str


@dataclass(frozen=True, slots=True)
class QueueItemView:
    queue_uuid: str
    status: str
    reason: str | None
    # A start's or stop's transaction.
    transaction: TransactionView | None
    # A command's action, and what the charger answered: its answer object, or a summary where
    # there is none (a local-list sync of several messages, staging).
    command: str | None
    result: dict[str, Any] | str | None


@dataclass(frozen=True, slots=True)
class PortView:
    port_uuid: str
    charge_point_id: str
    connector_id: int
    status: str | None
    online: bool


def transaction_view(transaction: Transaction) -> TransactionView:
    return TransactionView(
        transaction_uuid=transaction.transaction_uuid,
        port_uuid=transaction.port_uuid,
        state=transaction.state,
        started=transaction.started_at,
        ended=transaction.ended_at,
        expires=transaction.expires_at,
        invoice_id=transaction.invoice_id,
        energy_wh=energy_wh(transaction),
        stop=stop_view(transaction),
        id_tag=transaction.id_tag,
        origin=transaction.origin,
        stop_reason=transaction.charger_stop_reason if transaction.state.ended else None,
    )


def stop_view(transaction: Transaction) -> StopView | None:
    if transaction.state != TransactionState.OPEN or transaction.stop_state is None:
        return None
    return StopView(
        state=transaction.stop_state,
        requested=transaction.stop_requested_at,
        attempts=transaction.stop_attempts,
        last_error=transaction.stop_error,
        next_step=transaction.stop_retry_at,
    )


def energy_wh(transaction: Transaction) -> int | None:
    if transaction.meter_start_wh is None:
        return None
    last = (
        transaction.meter_stop_wh
        if transaction.meter_stop_wh is not None
        else transaction.meter_last_wh
    )
    return None if last is None else max(0, last - transaction.meter_start_wh)


def queue_item_view(
    item: QueueItem, transaction: Transaction | None, command: Command | None
) -> QueueItemView:
    return QueueItemView(
        queue_uuid=item.queue_uuid,
        status=item.status,
        reason=item.reason,
        transaction=transaction_view(transaction) if transaction is not None else None,
        command=command.action if command is not None else None,
        result=None
        if command is None
        else (command.result if command.answer is None else command.answer),
    )


def port_view(row: tuple[Port, Charger]) -> PortView:
    port, charger = row
    return PortView(
        port_uuid=port.port_uuid,
        charge_point_id=charger.charge_point_id,
        connector_id=port.connector_id,
        status=port.status,
        online=charger.connected_node is not None,
    )


def transaction_data(view: TransactionView) -> dict[str, Any]:
    """A transaction in JSON: the body of GET /1.2/transactions/<uuid>, and the `transaction`
    of the webhooks' event data."""
    return {
        "transaction_uuid": view.transaction_uuid,
        "port_uuid": view.port_uuid,
        "state": view.state,
        "started": format_api(view.started),
        "ended": format_api(view.ended),
        "expires": format_api(view.expires),
        "invoice_id": view.invoice_id,
        "energy_wh": view.energy_wh,
        "stop": stop_data(view.stop),
        "id_tag": view.id_tag,
        "origin": view.origin,
        "stop_reason": view.stop_reason,
    }


def stop_data(view: StopView | None) -> dict[str, Any] | None:
    if view is None:
        return None
    return {
        "state": view.state,
        "requested": format_api(view.requested),
        "attempts": view.attempts,
        "last_error": view.last_error,
        "next_step": format_api(view.next_step),
    }

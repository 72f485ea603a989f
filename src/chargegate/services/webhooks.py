"""Webhook events: recorded with the change they report (webhook_sender.py POSTs them)."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from chargegate.domain.times import format_api, utcnow
from chargegate.domain.webhooks import DeliveryStatus, EventType
from chargegate.services.views import transaction_data, transaction_view
from chargegate.store import transactions as tx_store
from chargegate.store import webhooks as webhook_store
from chargegate.store.models import QueueItem, Transaction, Webhook, WebhookDelivery

_PENDING_EVENTS = "chargegate.webhook_events"
_WEBHOOKS = "chargegate.webhooks"


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


@dataclass(frozen=True, slots=True)
class Event:
    """An event to record for each of its operator's webhooks."""

    operator_id: int
    event_type: EventType
    ordering_key: str
    data: dict[str, Any]
    staging: bool = False


async def emit(
    session: AsyncSession,
    operator_id: int,
    event_type: EventType,
    ordering_key: str,
    data: dict[str, Any],
    staging: bool = False,
) -> None:
    """Record the event for each of the operator's webhooks, in the caller's transaction: it is
    sent if and only if the change it reports is committed."""
    await _add(session, Event(operator_id, event_type, ordering_key, data, staging))


async def _add(session: AsyncSession, event: Event) -> None:
    session.add_all(WebhookDelivery(**row) for row in await _deliveries(session, [event]))


async def emit_all(session: AsyncSession, events: Sequence[Event]) -> None:
    """emit, of many events, in one statement: the ORM's work per object, on the thousands of
    deliveries of an expiry wave's stops, would cost more than the rest of their write."""
    rows = await _deliveries(session, events)
    if rows:
        await webhook_store.add_deliveries(session, rows)


async def _deliveries(session: AsyncSession, events: Sequence[Event]) -> list[dict[str, Any]]:
    """The delivery rows of these events, in their order; one event id per event."""
    # Read once per operator and transaction: a batch of charger reports emits thousands.
    known: dict[int, Sequence[Webhook]] = session.info.setdefault(_WEBHOOKS, {})
    rows: list[dict[str, Any]] = []
    for event in events:
        if event.operator_id not in known:
            known[event.operator_id] = await webhook_store.active_webhooks(
                session, event.operator_id
            )
        webhooks = known[event.operator_id]
        if not webhooks:
            continue
        now = utcnow()
        event_id = str(uuid.uuid4())
        body = json.dumps(
            {
                "id": event_id,
                "type": event.event_type,
                "created": format_api(now),
                "staging": event.staging,
                "data": event.data,
            },
            separators=(",", ":"),
        )
        rows += (
            {
                "webhook_id": webhook.id,
                "event_id": event_id,
                "event_type": event.event_type,
                "ordering_key": event.ordering_key,
                "body": body,
                "status": DeliveryStatus.PENDING,
                "created_at": now,
                "next_attempt_at": now,
                "attempts": 0,
            }
            for webhook in webhooks
        )
    if rows:
        # The sender is woken once this transaction commits (see carried_events).
        session.info[_PENDING_EVENTS] = True
    return rows


def transaction_event_of(transaction: Transaction, event_type: EventType) -> Event | None:
    """The event, of the transaction as it is now; None for a charger's record of a start it
    was refused: nobody's session."""
    if not tx_store.is_session(transaction):
        return None
    return Event(
        transaction.operator_id,
        event_type,
        f"transaction:{transaction.id}",
        transaction_data(transaction_view(transaction)),
        transaction.staging,
    )


async def transaction_event(
    session: AsyncSession, transaction: Transaction, event_type: EventType
) -> None:
    event = transaction_event_of(transaction, event_type)
    if event is not None:
        await _add(session, event)


def queue_item_event_of(item: QueueItem, transaction: Transaction | None) -> Event:
    """The event of a resolved queue item, with its transaction as it is now (if it has one)."""
    data: dict[str, Any] = {
        "id": item.queue_uuid,
        "kind": item.kind,
        "status": item.status,
        "reason": item.reason,
    }
    subject = f"queue:{item.queue_uuid}"
    if item.transaction_id is not None:
        subject = f"transaction:{item.transaction_id}"
        if transaction is not None:
            data["transaction"] = transaction_data(transaction_view(transaction))
    return Event(item.operator_id, EventType.QUEUE_ITEM_RESOLVED, subject, data, item.staging)


async def queue_item_event(session: AsyncSession, item: QueueItem) -> None:
    transaction = None
    if item.transaction_id is not None:
        transaction = await session.get(Transaction, item.transaction_id)
    await _add(session, queue_item_event_of(item, transaction))


def carried_events(session: Session) -> bool:
    """Whether this committed session recorded events (and forget it: asked once per commit)."""
    return bool(session.info.pop(_PENDING_EVENTS, False))

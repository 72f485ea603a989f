"""Webhook events: recorded with the change they report (webhook_sender.py POSTs them)."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
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
    # Read once per operator and transaction: a batch of charger reports emits thousands.
    known: dict[int, Sequence[Webhook]] = session.info.setdefault(_WEBHOOKS, {})
    if operator_id not in known:
        known[operator_id] = await webhook_store.active_webhooks(session, operator_id)
    webhooks = known[operator_id]
    if not webhooks:
        return
    now = utcnow()
    event_id = str(uuid.uuid4())
    body = json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "created": format_api(now),
            "staging": staging,
            "data": data,
        },
        separators=(",", ":"),
    )
    # The sender is woken once this transaction commits (see carried_events).
    session.info[_PENDING_EVENTS] = True
    for webhook in webhooks:
        session.add(
            WebhookDelivery(
                webhook_id=webhook.id,
                event_id=event_id,
                event_type=event_type,
                ordering_key=ordering_key,
                body=body,
                status=DeliveryStatus.PENDING,
                created_at=now,
                next_attempt_at=now,
                attempts=0,
            )
        )


async def transaction_event(
    session: AsyncSession, transaction: Transaction, event_type: EventType
) -> None:
    if not tx_store.is_session(transaction):
        return  # a charger's record of a start it was refused: nobody's session
    await emit(
        session,
        transaction.operator_id,
        event_type,
        f"transaction:{transaction.id}",
        transaction_data(transaction_view(transaction)),
        transaction.staging,
    )


async def queue_item_event(session: AsyncSession, item: QueueItem) -> None:
    data: dict[str, Any] = {
        "id": item.queue_uuid,
        "kind": item.kind,
        "status": item.status,
        "reason": item.reason,
    }
    subject = f"queue:{item.queue_uuid}"
    if item.transaction_id is not None:
        subject = f"transaction:{item.transaction_id}"
        transaction = await session.get(Transaction, item.transaction_id)
        if transaction is not None:
            data["transaction"] = transaction_data(transaction_view(transaction))
    await emit(
        session, item.operator_id, EventType.QUEUE_ITEM_RESOLVED, subject, data, item.staging
    )


def carried_events(session: Session) -> bool:
    """Whether this committed session recorded events (and forget it: asked once per commit)."""
    return bool(session.info.pop(_PENDING_EVENTS, False))

"""Webhook events: recorded with the change they report, then POSTed, signed, in order."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from chargegate.bus import Topic
from chargegate.domain.times import format_api, utcnow
from chargegate.domain.webhooks import (
    EVENT_HEADER,
    MAX_ATTEMPTS,
    SIGNATURE_HEADER,
    DeliveryStatus,
    EventType,
    retry_delay,
    signature,
)
from chargegate.services.runtime import Runtime
from chargegate.services.views import transaction_view
from chargegate.store import webhooks as webhook_store
from chargegate.store.models import QueueItem, Transaction, Webhook, WebhookDelivery

log = logging.getLogger(__name__)

CLAIM_BATCH = 100
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
            "type": event_type.value,
            "created": format_api(now),
            "staging": staging,
            "data": data,
        },
        separators=(",", ":"),
    )
    # The sender is woken once this transaction commits (see WebhookSender).
    session.info[_PENDING_EVENTS] = True
    for webhook in webhooks:
        session.add(
            WebhookDelivery(
                webhook_id=webhook.id,
                event_id=event_id,
                event_type=event_type.value,
                ordering_key=ordering_key,
                body=body,
                status=DeliveryStatus.PENDING.value,
                created_at=now,
                next_attempt_at=now,
                attempts=0,
            )
        )


async def transaction_event(
    session: AsyncSession, transaction: Transaction, event_type: EventType
) -> None:
    await emit(
        session,
        transaction.operator_id,
        event_type,
        f"transaction:{transaction.id}",
        transaction_view(transaction),
        transaction.staging,
    )


async def queue_item_event(session: AsyncSession, item: QueueItem) -> None:
    transaction = await session.get(Transaction, item.transaction_id)
    data: dict[str, Any] = {
        "id": item.queue_uuid,
        "kind": item.kind,
        "status": item.status,
        "reason": item.reason,
    }
    if transaction is not None:
        data["transaction"] = transaction_view(transaction)
    await emit(
        session,
        item.operator_id,
        EventType.QUEUE_ITEM_RESOLVED,
        f"transaction:{item.transaction_id}",
        data,
        item.staging,
    )


class WebhookSender:
    """POSTs due deliveries; each webhook's events for one transaction (or port) go one at a
    time, in the order they happened, each retried with backoff until delivered."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._client = httpx.AsyncClient(
            timeout=rt.settings.webhook_timeout_s, follow_redirects=False
        )

    def _committed(self, session: Session) -> None:
        if session.info.pop(_PENDING_EVENTS, False):
            self._rt.bus.wake(Topic.WEBHOOKS)

    async def run(self) -> None:
        # Events are recorded deep inside other flows' transactions; a commit that carried
        # some wakes the sender at once instead of at its next poll.
        event.listen(Session, "after_commit", self._committed)
        try:
            while True:
                try:
                    more = await self.send_due()
                except Exception:
                    log.exception("webhook pass failed; retrying")
                    more = False
                if not more:
                    await self._rt.bus.wait(Topic.WEBHOOKS, await self._idle_time())
        finally:
            event.remove(Session, "after_commit", self._committed)
            await self._client.aclose()

    async def _idle_time(self) -> float:
        poll = self._rt.settings.poll_interval_s
        async with self._rt.reads() as session:
            next_at = await webhook_store.next_attempt(session)
        if next_at is None:
            return poll
        return min(poll, max(0.0, (next_at - utcnow()).total_seconds()))

    async def send_due(self) -> bool:
        """One round; True when more may be due right away (an event next in line)."""
        lease = timedelta(seconds=self._rt.settings.webhook_timeout_s * 3)
        async with self._rt.sessions() as session, session.begin():
            rows = await webhook_store.claim_due(session, utcnow(), lease, CLAIM_BATCH)
            claims = [(d.id, d.event_type, d.body, w.url, w.secret) for d, w in rows]
        if not claims:
            return False
        results = await asyncio.gather(*(self._post(*claim[1:]) for claim in claims))
        async with self._rt.sessions() as session, session.begin():
            for (delivery_id, *_), error in zip(claims, results, strict=True):
                delivery = await webhook_store.get_delivery(session, delivery_id)
                if delivery is not None:
                    self._record(delivery, error, utcnow())
        return True

    async def _post(self, event_type: str, body: str, url: str, secret: str) -> str | None:
        """None when delivered; otherwise what went wrong."""
        raw = body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "chargegate-webhooks",
            EVENT_HEADER: event_type,
            SIGNATURE_HEADER: signature(secret, int(time.time()), raw),
        }
        try:
            response = await self._client.post(url, content=raw, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    def _record(self, delivery: WebhookDelivery, error: str | None, now: datetime) -> None:
        delivery.lease_until = None
        if error is None:
            delivery.status = DeliveryStatus.DELIVERED.value
            delivery.delivered_at = now
            return
        delivery.last_error = error
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED.value
            log.warning(
                "webhook delivery given up",
                extra={"delivery_id": delivery.id, "attempts": delivery.attempts, "error": error},
            )
            return
        delivery.status = DeliveryStatus.PENDING.value
        base = timedelta(seconds=self._rt.settings.webhook_retry_base_s)
        delivery.next_attempt_at = now + retry_delay(delivery.attempts, base)

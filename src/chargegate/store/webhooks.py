"""Webhooks and their delivery outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from chargegate.domain.webhooks import DeliveryStatus
from chargegate.store.models import Webhook, WebhookDelivery

_UNFINISHED = (DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value)


async def add_webhook(
    session: AsyncSession, operator_id: int, url: str, secret: str, now: datetime
) -> Webhook:
    webhook = Webhook(operator_id=operator_id, url=url, secret=secret, created_at=now)
    session.add(webhook)
    await session.flush()
    return webhook


async def active_webhooks(session: AsyncSession, operator_id: int | None) -> Sequence[Webhook]:
    """The operator's webhooks (every operator's for None)."""
    query = select(Webhook).where(Webhook.removed_at.is_(None)).order_by(Webhook.id)
    if operator_id is not None:
        query = query.where(Webhook.operator_id == operator_id)
    return (await session.scalars(query)).all()


async def remove_webhook(session: AsyncSession, webhook_id: int, now: datetime) -> bool:
    webhook = await session.get(Webhook, webhook_id)
    if webhook is None or webhook.removed_at is not None:
        return False
    webhook.removed_at = now
    # What was not sent yet is not sent to an endpoint the operator took away.
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.webhook_id == webhook_id,
            WebhookDelivery.status.in_(_UNFINISHED),
        )
        .values(status=DeliveryStatus.FAILED.value, last_error="webhook removed")
    )
    return True


async def claim_due(
    session: AsyncSession, now: datetime, lease: timedelta, limit: int
) -> Sequence[tuple[WebhookDelivery, Webhook]]:
    """Claim deliveries that are due and first in line for their webhook and ordering key:
    a later event for a transaction waits until the earlier ones are delivered (or failed)."""
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.status == DeliveryStatus.SENDING.value,
            WebhookDelivery.lease_until < now,
        )
        .values(status=DeliveryStatus.PENDING.value, lease_until=None)
    )
    earlier = aliased(WebhookDelivery)
    query = (
        select(WebhookDelivery, Webhook)
        .join(Webhook, WebhookDelivery.webhook_id == Webhook.id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING.value,
            WebhookDelivery.next_attempt_at <= now,
            ~exists().where(
                and_(
                    earlier.webhook_id == WebhookDelivery.webhook_id,
                    earlier.ordering_key == WebhookDelivery.ordering_key,
                    earlier.id < WebhookDelivery.id,
                    earlier.status.in_(_UNFINISHED),
                )
            ),
        )
        .order_by(WebhookDelivery.id)
        .limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    rows = [(row[0], row[1]) for row in await session.execute(query)]
    for delivery, _webhook in rows:
        delivery.status = DeliveryStatus.SENDING.value
        delivery.lease_until = now + lease
        delivery.attempts += 1
    await session.flush()
    return rows


async def next_attempt(session: AsyncSession) -> datetime | None:
    return await session.scalar(
        select(WebhookDelivery.next_attempt_at)
        .where(WebhookDelivery.status == DeliveryStatus.PENDING.value)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(1)
    )


async def get_delivery(session: AsyncSession, delivery_id: int) -> WebhookDelivery | None:
    return await session.get(WebhookDelivery, delivery_id)

"""Webhooks and their delivery outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, assert_never

from sqlalchemy import ColumnElement, Select, and_, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from chargegate.domain.webhooks import DeliveryStatus
from chargegate.store.models import Webhook, WebhookDelivery

_UNFINISHED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
# Built once: an alias is a copy of the table's columns, which each round would make anew.
_EARLIER = aliased(WebhookDelivery, name="earlier")
REMOVED = "webhook removed"


async def add_webhook(
    session: AsyncSession, operator_id: int, url: str, secret: str, now: datetime
) -> Webhook:
    webhook = Webhook(operator_id=operator_id, url=url, secret=secret, created_at=now)
    session.add(webhook)
    await session.flush()
    return webhook


async def add_deliveries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Deliveries, in their order (their ids order each webhook's events)."""
    await session.execute(insert(WebhookDelivery), rows)


async def active_webhooks(session: AsyncSession, operator_id: int | None) -> Sequence[Webhook]:
    """The operator's webhooks (every operator's for None)."""
    query = select(Webhook).where(Webhook.removed_at.is_(None)).order_by(Webhook.id)
    if operator_id is not None:
        query = query.where(Webhook.operator_id == operator_id)
    return (await session.scalars(query)).all()


async def remove_webhook(
    session: AsyncSession, webhook_id: int, now: datetime, operator_id: int | None = None
) -> bool:
    """Whether there was such an active webhook (of this operator, when one is named)."""
    webhook = await session.get(Webhook, webhook_id)
    if webhook is None or webhook.removed_at is not None:
        return False
    if operator_id is not None and webhook.operator_id != operator_id:
        return False
    webhook.removed_at = now
    await _drop_unsent(session, Webhook.id == webhook_id)
    return True


def _listed(operator_id: int) -> Select[Webhook]:
    """The operator's active webhooks, newest first."""
    return (
        select(Webhook)
        .where(Webhook.operator_id == operator_id, Webhook.removed_at.is_(None))
        .order_by(Webhook.id.desc())
    )


async def page_end(
    session: AsyncSession, operator_id: int, limit: int, after: int | None
) -> int | None:
    """The id of the last webhook of a full page (the `limit`-th after `after`), if full."""
    query = _listed(operator_id).with_only_columns(Webhook.id)
    if after is not None:
        query = query.where(Webhook.id < after)
    found: int | None = await session.scalar(query.offset(limit - 1).limit(1))
    return found


async def listed(
    session: AsyncSession, operator_id: int, size: int, after: int | None, through: int | None
) -> Sequence[Webhook]:
    """Up to `size` of the operator's active webhooks beyond `after`, not beyond `through`."""
    query = _listed(operator_id).limit(size)
    if after is not None:
        query = query.where(Webhook.id < after)
    if through is not None:
        query = query.where(Webhook.id >= through)
    return (await session.scalars(query)).all()


async def _drop_unsent(session: AsyncSession, webhooks: ColumnElement[bool]) -> None:
    """What was not sent yet is not sent to an endpoint the operator took away. A delivery being
    sent right now is failed too: its answer then finds it failed and changes nothing (settle)."""
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.webhook_id.in_(select(Webhook.id).where(webhooks)),
            WebhookDelivery.status.in_(_UNFINISHED),
        )
        .values(status=DeliveryStatus.FAILED, last_error=REMOVED, lease_until=None)
        .execution_options(synchronize_session=False)
    )


async def claim_due(
    session: AsyncSession, now: datetime, lease: timedelta, limit: int, per_webhook: int
) -> Sequence[tuple[WebhookDelivery, Webhook]]:
    """Claim up to `limit` deliveries that are due and first in line for their webhook and
    ordering key (a later event for a transaction waits until the earlier ones are delivered or
    failed), so that no webhook has more than `per_webhook` being sent at once (on all nodes)."""
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.status == DeliveryStatus.SENDING,
            WebhookDelivery.lease_until < now,
        )
        .values(status=DeliveryStatus.PENDING, lease_until=None)
    )
    # An event recorded by a transaction that read the webhook just before it was removed.
    await _drop_unsent(session, Webhook.removed_at.is_not(None))
    if limit <= 0:
        return []
    ids = (await session.scalars(_due(now, limit, per_webhook))).all()
    if not ids:
        return []
    # Chosen without locks (window functions cannot be locked): taken only if still pending,
    # skipping those another node is claiming right now.
    query = (
        select(WebhookDelivery, Webhook)
        .join(Webhook, WebhookDelivery.webhook_id == Webhook.id)
        .where(
            WebhookDelivery.id.in_(ids),
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .order_by(WebhookDelivery.id)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    rows = [(delivery, webhook) for delivery, webhook in await session.execute(query)]
    for delivery, _webhook in rows:
        delivery.status = DeliveryStatus.SENDING
        delivery.lease_until = now + lease
        delivery.attempts += 1
    await session.flush()
    return rows


def _due(now: datetime, limit: int, per_webhook: int) -> Select[tuple[int]]:
    place = func.row_number().over(
        partition_by=WebhookDelivery.webhook_id, order_by=WebhookDelivery.id
    )
    due = (
        select(
            WebhookDelivery.id.label("id"),
            WebhookDelivery.webhook_id.label("webhook_id"),
            place.label("place"),
        )
        .join(Webhook, WebhookDelivery.webhook_id == Webhook.id)
        .where(
            Webhook.removed_at.is_(None),
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            ~exists().where(
                and_(
                    _EARLIER.webhook_id == WebhookDelivery.webhook_id,
                    _EARLIER.ordering_key == WebhookDelivery.ordering_key,
                    _EARLIER.id < WebhookDelivery.id,
                    _EARLIER.status.in_(_UNFINISHED),
                )
            ),
        )
        .subquery()
    )
    sending = (
        select(WebhookDelivery.webhook_id.label("webhook_id"), func.count().label("count"))
        .where(WebhookDelivery.status == DeliveryStatus.SENDING)
        .group_by(WebhookDelivery.webhook_id)
        .subquery()
    )
    return (
        select(due.c.id)
        .outerjoin(sending, sending.c.webhook_id == due.c.webhook_id)
        .where(due.c.place + func.coalesce(sending.c.count, 0) <= per_webhook)
        .order_by(due.c.id)
        .limit(limit)
    )


async def settle(
    session: AsyncSession,
    delivery_id: int,
    attempt: int,
    status: DeliveryStatus,
    error: str | None,
    now: datetime,
    retry_at: datetime,
) -> bool:
    """Record how attempt number `attempt` went; False (nothing written) when the delivery is no
    longer that attempt's: failed meanwhile (its webhook removed), or claimed again after its
    lease ran out. A late answer so never revives a delivery."""
    values: dict[str, object] = {"status": status, "lease_until": None}
    match status:
        case DeliveryStatus.DELIVERED:
            values["delivered_at"] = now
        case DeliveryStatus.PENDING:
            values["last_error"] = error
            values["next_attempt_at"] = retry_at
        case DeliveryStatus.FAILED:
            values["last_error"] = error
        case DeliveryStatus.SENDING:
            raise ValueError("an attempt ends in delivered, pending (retry) or failed")
        case _:
            assert_never(status)
    settled = await session.scalar(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == DeliveryStatus.SENDING,
            WebhookDelivery.attempts == attempt,
        )
        .values(values)
        .returning(WebhookDelivery.id)
        .execution_options(synchronize_session=False)
    )
    return settled is not None


async def next_attempt(session: AsyncSession, after: datetime) -> datetime | None:
    """When the next retry is due. Deliveries due already but waiting (for an earlier event, or
    for a free slot of their webhook) are not counted: a POST that ends wakes the sender."""
    return await session.scalar(
        select(WebhookDelivery.next_attempt_at)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at > after,
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(1)
    )

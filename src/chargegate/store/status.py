"""Live counts across the deployment, for `chargegate status`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.states import CommandStatus, QueueStatus, TransactionState
from chargegate.domain.webhooks import DeliveryStatus
from chargegate.store.models import Charger, Command, QueueItem, Transaction, WebhookDelivery


async def live_counts(session: AsyncSession) -> dict[str, Any]:
    by_node = {
        node: count
        for node, count in await session.execute(
            select(Charger.connected_node, func.count())
            .where(Charger.connected_node.is_not(None))
            .group_by(Charger.connected_node)
        )
    }
    states = {
        state: count
        for state, count in await session.execute(
            select(Transaction.state, func.count())
            .where(Transaction.staging.is_(False))
            .group_by(Transaction.state)
        )
    }
    return {
        "chargers": await session.scalar(select(func.count()).select_from(Charger)),
        "connected_chargers": sum(by_node.values()),
        "connected_by_node": by_node,
        "transactions": {state: states.get(state, 0) for state in TransactionState},
        "queue_items_in_progress": await session.scalar(
            # Sandbox items wait for an stg_input that may never come: not live work.
            select(func.count()).where(
                QueueItem.status == QueueStatus.IN_PROGRESS, QueueItem.staging.is_(False)
            )
        ),
        "commands_outstanding": await session.scalar(
            select(func.count()).where(
                Command.status.in_((CommandStatus.PENDING, CommandStatus.SENDING))
            )
        ),
        "webhook_deliveries_pending": await session.scalar(
            select(func.count()).where(
                WebhookDelivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING))
            )
        ),
    }

"""JSON bodies of API responses, in the seed's shapes."""

from __future__ import annotations

from typing import Any

from chargegate.domain.states import QueueStatus
from chargegate.services.queue import QueueView
from chargegate.services.transactions import Started
from chargegate.services.views import transaction_view


def created_body(started: Started) -> dict[str, Any]:
    queue_uuid = started.queue_item.queue_uuid
    return {
        "href": f"/queue/{queue_uuid}",
        "queue_uuid": queue_uuid,
        "transaction_uuid": started.transaction.transaction_uuid,
    }


def queued_body(queue_uuid: str) -> dict[str, Any]:
    """A request sent on to a charger: follow it through its queue item."""
    return {"href": f"/queue/{queue_uuid}", "id": queue_uuid}


def queue_body(view: QueueView) -> dict[str, Any]:
    item = view.item
    if item.status == QueueStatus.SUCCESS and view.transaction is not None:
        return transaction_view(view.transaction)
    body: dict[str, Any] = {"id": item.queue_uuid, "status": item.status}
    if view.command is not None:
        body["command"] = view.command.action
    if item.status == QueueStatus.FAILURE:
        body["reason"] = item.reason
    elif item.status == QueueStatus.SUCCESS and view.command is not None:
        body["result"] = view.command.result
    return body

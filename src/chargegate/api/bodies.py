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


def stop_body(queue_uuid: str) -> dict[str, Any]:
    return {"href": f"/queue/{queue_uuid}", "id": queue_uuid}


def queue_body(view: QueueView) -> dict[str, Any]:
    item = view.item
    if item.status == QueueStatus.SUCCESS.value:
        return transaction_view(view.transaction)
    body: dict[str, Any] = {"id": item.queue_uuid, "status": item.status}
    if item.status == QueueStatus.FAILURE.value:
        body["reason"] = item.reason
    return body

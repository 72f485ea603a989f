"""JSON bodies of API responses, in the seed's shapes, from the services' views."""

from __future__ import annotations

from typing import Any

from chargegate.domain.states import QueueStatus
from chargegate.domain.times import format_api
from chargegate.services.id_tokens import TokenView
from chargegate.services.local_lists import LocalListView, local_list_data
from chargegate.services.views import (
    PortView,
    QueueItemView,
    StartedView,
    TransactionView,
    transaction_data,
)


def transaction_body(view: TransactionView) -> dict[str, Any]:
    # The webhooks' event data show a transaction the same way.
    return transaction_data(view)


def created_body(started: StartedView) -> dict[str, Any]:
    return {
        "href": f"/queue/{started.queue_uuid}",
        "queue_uuid": started.queue_uuid,
        "transaction_uuid": started.transaction_uuid,
    }


def queued_body(queue_uuid: str) -> dict[str, Any]:
    """A request sent on to a charger: follow it through its queue item."""
    return {"href": f"/queue/{queue_uuid}", "id": queue_uuid}


def queue_body(view: QueueItemView) -> dict[str, Any]:
    if view.status == QueueStatus.SUCCESS and view.transaction is not None:
        return transaction_body(view.transaction)
    body: dict[str, Any] = {"id": view.queue_uuid, "status": view.status}
    if view.command is not None:
        body["command"] = view.command
    if view.status == QueueStatus.FAILURE:
        body["reason"] = view.reason
    elif view.status == QueueStatus.SUCCESS and view.command is not None:
        body["result"] = view.result
    return body


def port_body(view: PortView) -> dict[str, Any]:
    return {
        "port_uuid": view.port_uuid,
        "charge_point_id": view.charge_point_id,
        "connector_id": view.connector_id,
        "status": view.status,
        "online": view.online,
    }


def token_body(view: TokenView) -> dict[str, Any]:
    return {
        "id_tag": view.id_tag,
        "type": view.type,
        "status": view.status,
        "expires": format_api(view.expires),
        "parent_id_tag": view.parent_id_tag,
        "note": view.note,
        "created": format_api(view.created),
        "updated": format_api(view.updated),
    }


def local_list_body(view: LocalListView) -> dict[str, Any]:
    # The webhooks' event data show a list the same way.
    return local_list_data(view)

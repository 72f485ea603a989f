"""Our orders (start, stop) worded as OCPP 1.6J CALLs, and the charger's answers read back."""

from __future__ import annotations

from chargegate.domain.states import CommandAction
from chargegate.ocpp.rpc import Payload
from chargegate.services.dispatcher import Order, Reply


def to_call(order: Order) -> tuple[str, Payload]:
    if order.action is CommandAction.START:
        return "RemoteStartTransaction", {
            "connectorId": order.connector_id,
            "idTag": order.id_tag,
        }
    return "RemoteStopTransaction", {"transactionId": order.transaction_id}


def to_reply(action: str, result: Payload) -> Reply:
    status = result.get("status")
    if status == "Accepted":
        return Reply(accepted=True, detail=f"{action}: Accepted")
    verb = "start" if action == "RemoteStartTransaction" else "stop"
    return Reply(
        accepted=False,
        detail=(
            f"The charger rejected the {verb} request ({action}: {status}); the port may be "
            "occupied, faulted or unavailable"
        ),
    )

"""Our orders (start, stop, fail-safe update) worded as OCPP 2.0.1 CALLs, answers read back."""

from __future__ import annotations

from chargegate.domain.states import CommandAction
from chargegate.ocpp import fail_safe
from chargegate.ocpp.rpc import Payload, RpcSession
from chargegate.ocpp.v16.orders import rejected
from chargegate.services.dispatcher import Order, Reply


def _profile(order: Order, with_transaction: bool) -> Payload:
    start, periods = fail_safe.schedule(order)
    profile: Payload = {
        "id": order.transaction_id,
        "stackLevel": fail_safe.STACK_LEVEL,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [
            {
                "id": order.transaction_id,
                "startSchedule": start,
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": periods,
            }
        ],
    }
    if with_transaction and order.charger_transaction_id is not None:
        profile["transactionId"] = order.charger_transaction_id
    return profile


def to_call(order: Order) -> tuple[str, Payload]:
    if order.action is CommandAction.START:
        payload: Payload = {
            "idToken": {"idToken": order.id_tag, "type": "Central"},
            "remoteStartId": order.transaction_id,
            "evseId": order.connector_id,
        }
        if order.fail_safe:
            payload["chargingProfile"] = _profile(order, with_transaction=False)
        return "RequestStartTransaction", payload
    if order.action is CommandAction.PROFILE:
        return "SetChargingProfile", {
            "evseId": order.connector_id,
            "chargingProfile": _profile(order, with_transaction=True),
        }
    return "RequestStopTransaction", {"transactionId": order.charger_transaction_id or ""}


def to_reply(action: str, result: Payload) -> Reply:
    status = result.get("status")
    if status != "Accepted":
        return Reply(accepted=False, detail=rejected(action, status))
    return Reply(
        accepted=True,
        detail=f"{action}: Accepted",
        charger_transaction_id=result.get("transactionId"),
    )


async def smart_charging(session: RpcSession) -> bool:
    result = await session.call(
        "GetVariables",
        {
            "getVariableData": [
                {"component": {"name": "SmartChargingCtrlr"}, "variable": {"name": "Enabled"}}
            ]
        },
    )
    for entry in result.get("getVariableResult", []):
        if entry.get("attributeStatus") == "Accepted":
            return str(entry.get("attributeValue", "")).lower() == "true"
    return False

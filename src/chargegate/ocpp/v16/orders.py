"""Our orders (start, stop, fail-safe update) worded as OCPP 1.6J CALLs, answers read back."""

from __future__ import annotations

from chargegate.domain.states import CommandAction
from chargegate.ocpp import fail_safe
from chargegate.ocpp.rpc import Payload, RpcSession
from chargegate.services.dispatcher import Order, Reply


def _profile(order: Order, with_transaction: bool) -> Payload:
    start, periods = fail_safe.schedule(order)
    profile: Payload = {
        "chargingProfileId": order.transaction_id,
        "stackLevel": fail_safe.STACK_LEVEL,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "startSchedule": start,
            "chargingSchedulePeriod": periods,
        },
    }
    if with_transaction:
        profile["transactionId"] = order.transaction_id
    return profile


def to_call(order: Order) -> tuple[str, Payload]:
    if order.action is CommandAction.START:
        payload: Payload = {"connectorId": order.connector_id, "idTag": order.id_tag}
        if order.fail_safe:
            payload["chargingProfile"] = _profile(order, with_transaction=False)
        return "RemoteStartTransaction", payload
    if order.action is CommandAction.PROFILE:
        return "SetChargingProfile", {
            "connectorId": order.connector_id,
            "csChargingProfiles": _profile(order, with_transaction=True),
        }
    return "RemoteStopTransaction", {"transactionId": order.transaction_id}


def to_reply(action: str, result: Payload) -> Reply:
    status = result.get("status")
    if status == "Accepted":
        return Reply(accepted=True, detail=f"{action}: Accepted")
    return Reply(accepted=False, detail=rejected(action, status))


def rejected(action: str, status: object) -> str:
    what = {
        "RemoteStartTransaction": "start",
        "RequestStartTransaction": "start",
        "RemoteStopTransaction": "stop",
        "RequestStopTransaction": "stop",
    }.get(action)
    if what is None:
        return f"The charger rejected {action} ({status})"
    return (
        f"The charger rejected the {what} request ({action}: {status}); the port may be "
        "occupied, faulted or unavailable"
    )


async def smart_charging(session: RpcSession) -> bool:
    result = await session.call("GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
    for entry in result.get("configurationKey", []):
        if entry.get("key") == "SupportedFeatureProfiles":
            profiles = {p.strip() for p in str(entry.get("value", "")).split(",")}
            return "SmartCharging" in profiles
    return False

"""Our orders (start, stop, fail-safe update) worded as OCPP 1.6J CALLs, answers read back."""

from __future__ import annotations

from typing import assert_never

from ocpp.v16.enums import Action, ChargePointStatus, MessageTrigger, RemoteStartStopStatus
from ocpp.v201.enums import Action as Action201

from chargegate.domain.states import CommandAction, Liveness
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
    action = order.action
    match action:
        case CommandAction.START:
            payload: Payload = {"connectorId": order.connector_id, "idTag": order.id_tag}
            if order.fail_safe:
                payload["chargingProfile"] = _profile(order, with_transaction=False)
            return Action.remote_start_transaction, payload
        case CommandAction.STOP:
            return Action.remote_stop_transaction, {"transactionId": order.transaction_id}
        case CommandAction.PROFILE:
            return Action.set_charging_profile, {
                "connectorId": order.connector_id,
                "csChargingProfiles": _profile(order, with_transaction=True),
            }
        case CommandAction.RECONCILE:
            # 1.6 cannot be asked about a transaction: the connector's status answers it.
            return Action.trigger_message, {
                "requestedMessage": MessageTrigger.status_notification,
                "connectorId": order.connector_id,
            }
        case _:
            assert_never(action)


def to_reply(action: str, result: Payload) -> Reply:
    status = result.get("status")
    accepted = status == RemoteStartStopStatus.accepted
    if action == Action.trigger_message:
        liveness = Liveness.REPORT_COMING if accepted else Liveness.UNKNOWN
        return Reply(accepted=accepted, detail=f"{action}: {status}", liveness=liveness)
    if accepted:
        return Reply(accepted=True, detail=f"{action}: Accepted")
    return Reply(accepted=False, detail=rejected(action, status))


# A connector in one of these has no transaction running (Finishing: it has ended, and the
# charger waits for the cable to be unplugged).
IDLE = frozenset(
    {
        ChargePointStatus.available,
        ChargePointStatus.preparing,
        ChargePointStatus.finishing,
        ChargePointStatus.reserved,
        ChargePointStatus.unavailable,
    }
)


def rejected(action: str, status: object) -> str:
    match action:
        case Action.remote_start_transaction | Action201.request_start_transaction:
            why = "the port may be occupied, faulted or unavailable"
            return f"The charger rejected the start request ({action}: {status}); {why}"
        case Action.remote_stop_transaction | Action201.request_stop_transaction:
            why = "the charger may not know the transaction"
            return f"The charger rejected the stop request ({action}: {status}); {why}"
        case _:
            return f"The charger rejected {action} ({status})"


async def smart_charging(session: RpcSession) -> bool:
    result = await session.call("GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
    for entry in result.get("configurationKey", []):
        if entry.get("key") == "SupportedFeatureProfiles":
            profiles = {p.strip() for p in str(entry.get("value", "")).split(",")}
            return "SmartCharging" in profiles
    return False

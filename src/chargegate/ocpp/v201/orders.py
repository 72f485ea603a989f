"""Our orders (start, stop, fail-safe update) worded as OCPP 2.0.1 CALLs, answers read back."""

from __future__ import annotations

from typing import assert_never

from ocpp.v201.enums import Action, IdTokenEnumType, RequestStartStopStatusEnumType

from chargegate.domain.states import CommandAction, Liveness
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
    action = order.action
    match action:
        case CommandAction.START:
            payload: Payload = {
                "idToken": {"idToken": order.id_tag, "type": IdTokenEnumType.central},
                "remoteStartId": order.transaction_id,
                "evseId": order.connector_id,
            }
            if order.fail_safe:
                payload["chargingProfile"] = _profile(order, with_transaction=False)
            return Action.request_start_transaction, payload
        case CommandAction.STOP:
            return Action.request_stop_transaction, {
                "transactionId": order.charger_transaction_id or ""
            }
        case CommandAction.PROFILE:
            return Action.set_charging_profile, {
                "evseId": order.connector_id,
                "chargingProfile": _profile(order, with_transaction=True),
            }
        case CommandAction.RECONCILE:
            return Action.get_transaction_status, {
                "transactionId": order.charger_transaction_id or ""
            }
        case _:
            assert_never(action)


def to_reply(action: str, result: Payload) -> Reply:
    if action == Action.get_transaction_status:
        return Reply(
            accepted=True,
            detail=f"{action}: ongoing {result.get('ongoingIndicator')}, "
            f"messages in queue {result.get('messagesInQueue')}",
            liveness=_liveness(result),
        )
    status = result.get("status")
    if status != RequestStartStopStatusEnumType.accepted:
        return Reply(accepted=False, detail=rejected(action, status))
    return Reply(
        accepted=True,
        detail=f"{action}: Accepted",
        charger_transaction_id=result.get("transactionId"),
    )


def _liveness(result: Payload) -> Liveness:
    """GetTransactionStatus: ended only once nothing about it is still queued at the station
    (ongoing false with messages in queue means its Ended event is on the way)."""
    if result.get("ongoingIndicator") is True:
        return Liveness.RUNNING
    if result.get("messagesInQueue"):
        return Liveness.REPORT_COMING
    if result.get("ongoingIndicator") is False:
        return Liveness.ENDED
    return Liveness.UNKNOWN


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

"""Our orders worded as OCPP 2.0.1 CALLs, and the answers read back."""

from __future__ import annotations

from datetime import datetime
from typing import assert_never

from ocpp.v201.enums import (
    Action,
    AttributeEnumType,
    ChargingProfileKindEnumType,
    ChargingProfilePurposeEnumType,
    ChargingRateUnitEnumType,
    ControllerComponentName,
    GetVariableStatusEnumType,
    IdTokenEnumType,
    LogEnumType,
    LogStatusEnumType,
    OperationalStatusEnumType,
    ResetEnumType,
    SmartChargingCtrlrVariableName,
    UpdateFirmwareStatusEnumType,
)

from chargegate.domain.command_params import (
    AvailabilityParams,
    DataTransferParams,
    ResetKind,
    ResetParams,
    TriggerParams,
    UnlockParams,
)
from chargegate.domain.configuration import ChangeConfigurationParams, GetConfigurationParams
from chargegate.domain.file_transfers import DiagnosticsParams, FirmwareParams
from chargegate.domain.states import (
    ChargerAction,
    Liveness,
    ReservationAction,
    TransactionAction,
)
from chargegate.domain.times import format_ocpp
from chargegate.ocpp import fail_safe, file_transfers, local_lists
from chargegate.ocpp.common import DONE, Probed, data_transfer, rejected
from chargegate.ocpp.rpc import Payload, RpcSession
from chargegate.ocpp.v201 import local_list, smart_charging, variables
from chargegate.services.commands import Order, Reply, TransactionOrder
from chargegate.services.connectors import STATION


def _profile(transaction: TransactionOrder, now: datetime, with_transaction: bool) -> Payload:
    start, periods = fail_safe.schedule(transaction, now)
    profile: Payload = {
        "id": transaction.id,
        "stackLevel": fail_safe.STACK_LEVEL,
        "chargingProfilePurpose": ChargingProfilePurposeEnumType.tx_profile,
        "chargingProfileKind": ChargingProfileKindEnumType.absolute,
        "chargingSchedule": [
            {
                "id": transaction.id,
                "startSchedule": start,
                "chargingRateUnit": ChargingRateUnitEnumType.amps,
                "chargingSchedulePeriod": periods,
            }
        ],
    }
    if with_transaction and transaction.charger_transaction_id is not None:
        profile["transactionId"] = transaction.charger_transaction_id
    return profile


def to_call(order: Order) -> tuple[str, Payload]:
    action = order.action
    match action:
        case TransactionAction.START:
            transaction = order.on_transaction
            payload: Payload = {
                "idToken": {"idToken": transaction.id_tag, "type": IdTokenEnumType.central},
                "remoteStartId": transaction.id,
                "evseId": order.on_port,
            }
            if transaction.fail_safe:
                payload["chargingProfile"] = _profile(
                    transaction, order.issued_at, with_transaction=False
                )
            return Action.request_start_transaction, payload
        case TransactionAction.STOP:
            return Action.request_stop_transaction, {
                "transactionId": order.on_transaction.charger_transaction_id or ""
            }
        case TransactionAction.PROFILE:
            return Action.set_charging_profile, {
                "evseId": order.on_port,
                "chargingProfile": _profile(
                    order.on_transaction, order.issued_at, with_transaction=True
                ),
            }
        case TransactionAction.RECONCILE:
            return Action.get_transaction_status, {
                "transactionId": order.on_transaction.charger_transaction_id or ""
            }
        case ChargerAction.CLEAR_CACHE:
            return Action.clear_cache, {}
        case ChargerAction.GET_LOCAL_LIST_VERSION | ChargerAction.SEND_LOCAL_LIST:
            # A sync opens with the version question too (ocpp/local_lists.py goes on).
            return Action.get_local_list_version, {}
        case ChargerAction.RESET:
            params = order.params_as(ResetParams)
            immediate = params.type is ResetKind.IMMEDIATE
            payload = {"type": ResetEnumType.immediate if immediate else ResetEnumType.on_idle}
            if params.evse is not None:
                payload["evseId"] = params.evse
            return Action.reset, payload
        case ChargerAction.UPDATE_FIRMWARE:
            return Action.update_firmware, _update_firmware(order)
        case ChargerAction.GET_DIAGNOSTICS:
            diagnostics = order.params_as(DiagnosticsParams)
            return Action.get_log, {
                "logType": LogEnumType.diagnostics_log,
                "requestId": order.command_id,
                "log": {
                    "remoteLocation": diagnostics.location,
                    **file_transfers.span(diagnostics, "oldestTimestamp", "latestTimestamp"),
                },
                **file_transfers.retrying(diagnostics),
            }
        case ChargerAction.UNLOCK_CONNECTOR:
            # An EVSE of ours is a port: its one connector.
            port = order.params_as(UnlockParams).port
            return Action.unlock_connector, {"evseId": port, "connectorId": 1}
        case ChargerAction.CHANGE_AVAILABILITY:
            availability = order.params_as(AvailabilityParams)
            operative = availability.operative
            payload = {
                "operationalStatus": OperationalStatusEnumType.operative
                if operative
                else OperationalStatusEnumType.inoperative
            }
            # Without an EVSE, the whole station.
            if availability.port != STATION:
                payload["evse"] = {"id": availability.port}
            return Action.change_availability, payload
        case ChargerAction.TRIGGER_MESSAGE:
            trigger = order.params_as(TriggerParams)
            payload = {"requestedMessage": trigger.message}
            if trigger.port is not None:
                payload["evse"] = {"id": trigger.port}
            return Action.trigger_message, payload
        case ChargerAction.DATA_TRANSFER:
            return Action.data_transfer, data_transfer(order.params_as(DataTransferParams))
        case ChargerAction.GET_CONFIGURATION:
            return variables.get_call(order.params_as(GetConfigurationParams), order.command_id)
        case ChargerAction.CHANGE_CONFIGURATION:
            return variables.change_call(order.params_as(ChangeConfigurationParams))
        case ReservationAction.RESERVE:
            reservation = order.on_reservation
            payload = {
                "id": reservation.id,
                "expiryDateTime": format_ocpp(reservation.expires_at),
                "idToken": {"idToken": reservation.id_tag, "type": reservation.token_type},
            }
            # Without an EVSE, the station as a whole is reserved.
            if order.on_port != STATION:
                payload["evseId"] = order.on_port
            if reservation.parent_id_tag is not None:
                # Group tokens are ours to name: the station only compares them.
                payload["groupIdToken"] = {
                    "idToken": reservation.parent_id_tag,
                    "type": IdTokenEnumType.central,
                }
            return Action.reserve_now, payload
        case ReservationAction.CANCEL:
            return Action.cancel_reservation, {"reservationId": order.on_reservation.id}
        case ChargerAction.SET_CHARGING_PROFILE:
            return smart_charging.set_call(order)
        case ChargerAction.CLEAR_CHARGING_PROFILE:
            return smart_charging.clear_call(order)
        case ChargerAction.GET_COMPOSITE_SCHEDULE:
            return smart_charging.composite_call(order)
        case _:
            assert_never(action)


def _update_firmware(order: Order) -> Payload:
    params = order.params_as(FirmwareParams)
    firmware: Payload = {
        "location": params.location,
        "retrieveDateTime": file_transfers.retrieve_at(params, order.issued_at),
    }
    if params.signing_certificate is not None:
        firmware["signingCertificate"] = params.signing_certificate
    if params.signature is not None:
        firmware["signature"] = params.signature
    return {
        "requestId": order.command_id,
        "firmware": firmware,
        **file_transfers.retrying(params),
    }


# UpdateFirmware and GetLog: taken, and (AcceptedCanceled) an earlier one still running was
# cancelled for it.
_FILE_TRANSFER_TAKEN = (
    UpdateFirmwareStatusEnumType.accepted_canceled,
    LogStatusEnumType.accepted_canceled,
)


def to_reply(action: str, result: Payload) -> Reply:
    if action == Action.get_local_list_version:
        return local_lists.version_reply(action, local_list.WORDING.version_of(result))
    if action == Action.get_variables:
        return variables.read_reply(result)
    if action == Action.get_base_report:
        return variables.report_reply(result)
    if action == Action.set_variables:
        return variables.change_reply(result)
    if action == Action.get_transaction_status:
        return Reply(
            accepted=True,
            detail=f"{action}: ongoing {result.get('ongoingIndicator')}, "
            f"messages in queue {result.get('messagesInQueue')}",
            liveness=_liveness(result),
        )
    status = result.get("status")
    if status not in DONE and status not in _FILE_TRANSFER_TAKEN:
        return Reply(accepted=False, detail=rejected(action, status))
    return Reply(
        accepted=True,
        detail=f"{action}: {status}",
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


SMART_CHARGING = ControllerComponentName.smart_charging_ctrlr


async def probe(session: RpcSession) -> Probed:
    """Smart charging and the local list, from one GetVariables."""
    asked: list[Payload] = [
        {
            "component": {"name": SMART_CHARGING},
            "variable": {"name": SmartChargingCtrlrVariableName.enabled},
        }
    ]
    for variable, attribute in local_list.VARIABLES:
        item: Payload = {
            "component": {"name": local_list.COMPONENT},
            "variable": {"name": variable},
        }
        if attribute is not AttributeEnumType.actual:
            item["attributeType"] = attribute
        asked.append(item)
    result = await session.call(Action.get_variables, {"getVariableData": asked})
    values: dict[tuple[str, str], str] = {}
    smart_charging = False
    for entry in result.get("getVariableResult", []):
        if entry.get("attributeStatus") != GetVariableStatusEnumType.accepted:
            continue
        value = str(entry.get("attributeValue", ""))
        if entry["component"]["name"] == SMART_CHARGING:
            smart_charging = value.lower() == "true"
        else:
            attribute = entry.get("attributeType", AttributeEnumType.actual)
            values[(entry["variable"]["name"], attribute)] = value
    return Probed(
        smart_charging=smart_charging,
        local_list=local_list.capabilities(values),
        configuration=variables.read(result),
    )

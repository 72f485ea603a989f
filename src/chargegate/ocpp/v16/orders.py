"""Our orders worded as OCPP 1.6J CALLs, and the answers read back."""

from __future__ import annotations

from datetime import datetime
from typing import assert_never

from ocpp.v16.enums import (
    Action,
    AvailabilityType,
    ChargePointStatus,
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    ConfigurationKey,
    MessageTrigger,
    ResetType,
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
from chargegate.ocpp.v16 import configuration, local_list, smart_charging
from chargegate.services.commands import Order, Reply, TransactionOrder


def _profile(transaction: TransactionOrder, now: datetime, with_transaction: bool) -> Payload:
    start, periods = fail_safe.schedule(transaction, now)
    profile: Payload = {
        "chargingProfileId": transaction.id,
        "stackLevel": fail_safe.STACK_LEVEL,
        "chargingProfilePurpose": ChargingProfilePurposeType.tx_profile,
        "chargingProfileKind": ChargingProfileKindType.absolute,
        "chargingSchedule": {
            "chargingRateUnit": ChargingRateUnitType.amps,
            "startSchedule": start,
            "chargingSchedulePeriod": periods,
        },
    }
    if with_transaction:
        profile["transactionId"] = transaction.id
    return profile


def to_call(order: Order) -> tuple[str, Payload]:
    action = order.action
    match action:
        case TransactionAction.START:
            transaction = order.on_transaction
            payload: Payload = {"connectorId": order.on_port, "idTag": transaction.id_tag}
            if transaction.fail_safe:
                payload["chargingProfile"] = _profile(
                    transaction, order.issued_at, with_transaction=False
                )
            return Action.remote_start_transaction, payload
        case TransactionAction.STOP:
            return Action.remote_stop_transaction, {"transactionId": order.on_transaction.id}
        case TransactionAction.PROFILE:
            return Action.set_charging_profile, {
                "connectorId": order.on_port,
                "csChargingProfiles": _profile(
                    order.on_transaction, order.issued_at, with_transaction=True
                ),
            }
        case TransactionAction.RECONCILE:
            # 1.6 cannot be asked about a transaction: the connector's status answers it.
            return Action.trigger_message, {
                "requestedMessage": MessageTrigger.status_notification,
                "connectorId": order.on_port,
            }
        case ChargerAction.CLEAR_CACHE:
            return Action.clear_cache, {}
        case ChargerAction.GET_LOCAL_LIST_VERSION | ChargerAction.SEND_LOCAL_LIST:
            # A sync opens with the version question too (ocpp/local_lists.py goes on).
            return Action.get_local_list_version, {}
        case ChargerAction.RESET:
            kind = order.params_as(ResetParams).type
            return Action.reset, {
                "type": ResetType.hard if kind is ResetKind.HARD else ResetType.soft
            }
        case ChargerAction.UPDATE_FIRMWARE:
            firmware = order.params_as(FirmwareParams)
            return Action.update_firmware, {
                "location": firmware.location,
                "retrieveDate": file_transfers.retrieve_at(firmware, order.issued_at),
                **file_transfers.retrying(firmware),
            }
        case ChargerAction.GET_DIAGNOSTICS:
            diagnostics = order.params_as(DiagnosticsParams)
            return Action.get_diagnostics, {
                "location": diagnostics.location,
                **file_transfers.retrying(diagnostics),
                **file_transfers.span(diagnostics, "startTime", "stopTime"),
            }
        case ChargerAction.UNLOCK_CONNECTOR:
            return Action.unlock_connector, {"connectorId": order.params_as(UnlockParams).port}
        case ChargerAction.CHANGE_AVAILABILITY:
            availability = order.params_as(AvailabilityParams)
            operative = availability.operative
            return Action.change_availability, {
                "connectorId": availability.port,
                "type": AvailabilityType.operative if operative else AvailabilityType.inoperative,
            }
        case ChargerAction.TRIGGER_MESSAGE:
            trigger = order.params_as(TriggerParams)
            payload = {"requestedMessage": trigger.message}
            if trigger.port is not None:
                payload["connectorId"] = trigger.port
            return Action.trigger_message, payload
        case ChargerAction.DATA_TRANSFER:
            return Action.data_transfer, data_transfer(order.params_as(DataTransferParams))
        case ChargerAction.GET_CONFIGURATION:
            return configuration.get_call(order.params_as(GetConfigurationParams))
        case ChargerAction.CHANGE_CONFIGURATION:
            return configuration.change_call(order.params_as(ChangeConfigurationParams))
        case ReservationAction.RESERVE:
            reservation = order.on_reservation
            payload = {
                "connectorId": order.on_port,
                "expiryDate": format_ocpp(reservation.expires_at),
                "idTag": reservation.id_tag,
                "reservationId": reservation.id,
            }
            if reservation.parent_id_tag is not None:
                payload["parentIdTag"] = reservation.parent_id_tag
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


def to_reply(action: str, result: Payload) -> Reply:
    status = result.get("status")
    accepted = status in DONE
    if action == Action.get_local_list_version:
        return local_lists.version_reply(action, local_list.WORDING.version_of(result))
    if action == Action.update_firmware:
        # Its answer is empty: taken once the charger confirms receipt; FirmwareStatusNotification
        # tells the rest.
        return Reply(accepted=True, detail=f"{action}: received")
    if action == Action.get_diagnostics:
        # No fileName: the charger has no diagnostics to send.
        return Reply(accepted=True, detail=f"{action}: {result.get('fileName', 'no file')}")
    if action == Action.get_configuration:
        return configuration.read_reply(result)
    if action == Action.change_configuration:
        return configuration.change_reply(result)
    if action == Action.trigger_message:
        liveness = Liveness.REPORT_COMING if accepted else Liveness.UNKNOWN
        detail = f"{action}: {status}" if accepted else rejected(action, status)
        return Reply(accepted=accepted, detail=detail, liveness=liveness)
    if accepted:
        return Reply(accepted=True, detail=f"{action}: {status}")
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


async def probe(session: RpcSession) -> Probed:
    """Smart charging and the local list, from one GetConfiguration."""
    keys = [ConfigurationKey.supported_feature_profiles, *local_list.KEYS]
    result = await session.call(Action.get_configuration, {"key": keys})
    config = {
        str(entry.get("key")): str(entry["value"])
        for entry in result.get("configurationKey", [])
        if "value" in entry
    }
    named = config.get(ConfigurationKey.supported_feature_profiles)
    listed = [] if named is None else [p.strip() for p in named.split(",") if p.strip()]
    profiles = set(listed)
    return Probed(
        smart_charging="SmartCharging" in profiles,
        local_list=local_list.capabilities(profiles, config),
        configuration=configuration.read(result),
        feature_profiles=None if named is None else listed,
    )

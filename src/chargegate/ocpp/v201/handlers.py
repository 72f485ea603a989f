"""Handlers for the CALLs a 2.0.1 charging station sends. They translate; the services decide."""

from __future__ import annotations

from collections.abc import Callable

from ocpp.v201.enums import (
    Action,
    ReasonEnumType,
    ReservationUpdateStatusEnumType,
    TransactionEventEnumType,
)

from chargegate.domain.reports import BootReport
from chargegate.domain.times import utcnow
from chargegate.domain.tokens import INVALID
from chargegate.ocpp import file_transfers
from chargegate.ocpp.common import acknowledge, boot_accepted, shared_handlers
from chargegate.ocpp.meter import draw, energy_wh
from chargegate.ocpp.payloads import timestamp
from chargegate.ocpp.rpc import Handler, Payload
from chargegate.ocpp.v201.id_token_info import id_token_info
from chargegate.ocpp.v201.variables import report_entries
from chargegate.services import (
    authorization,
    charger_configuration,
    charger_reports,
    charger_reservations,
    charger_transactions,
)
from chargegate.services.runtime import Runtime

# Notifications we take note of and have nothing to answer but an empty response.
ACKNOWLEDGED = (
    Action.notify_event,
    Action.notify_monitoring_report,
    Action.security_event_notification,
    Action.notify_charging_limit,
    Action.cleared_charging_limit,
    Action.report_charging_profiles,
    Action.notify_display_messages,
    Action.notify_customer_information,
    Action.publish_firmware_status_notification,
)


def _id_token(payload: Payload) -> str | None:
    token = payload.get("idToken")
    return None if token is None else str(token["idToken"])


def build(rt: Runtime, charge_point_id: str, on_boot: Callable[[], None]) -> dict[str, Handler]:
    async def boot_notification(payload: Payload) -> Payload:
        station = payload["chargingStation"]
        await charger_reports.booted(
            rt,
            BootReport(
                charge_point_id,
                station["vendorName"],
                station["model"],
                utcnow(),
                station.get("serialNumber"),
                station.get("firmwareVersion"),
            ),
        )
        return boot_accepted(rt, on_boot)

    async def status_notification(payload: Payload) -> Payload:
        await charger_reports.status_changed(
            rt,
            charge_point_id,
            payload["evseId"],
            payload["connectorStatus"],
            None,
            timestamp(payload["timestamp"]),
        )
        return {}

    async def authorize(payload: Payload) -> Payload:
        token = _id_token(payload)
        if token is None:
            return id_token_info(INVALID)
        return id_token_info(await authorization.authorize(rt, charge_point_id, token))

    async def transaction_event(payload: Payload) -> Payload:
        info = payload["transactionInfo"]
        charger_transaction_id = info["transactionId"]
        token = _id_token(payload)
        at = timestamp(payload["timestamp"])
        energy = energy_wh(payload.get("meterValue", []))
        if payload["eventType"] == TransactionEventEnumType.ended:
            await charger_transactions.transaction_stopped(
                rt,
                charge_point_id,
                charger_transaction_id,
                energy,
                at,
                # Only a Local stop may leave its reason out.
                info.get("stoppedReason", ReasonEnumType.local),
            )
            if token is None:
                return {}
            return id_token_info(await authorization.at_stop(rt, charge_point_id, token))
        answer = await charger_transactions.transaction_started(
            rt,
            charge_point_id,
            connector_id=payload.get("evse", {}).get("id", 1),
            id_tag=token,
            meter_start_wh=energy,
            at=at,
            charger_transaction_id=charger_transaction_id,
            remote_start_id=info.get("remoteStartId"),
        )
        if "reservationId" in payload:
            await charger_reservations.used(
                rt, charge_point_id, payload["reservationId"], answer.transaction_id
            )
        if payload["eventType"] == TransactionEventEnumType.updated:
            await charger_transactions.meter_reading(
                rt,
                charge_point_id,
                charger_transaction_id,
                energy,
                draw(payload.get("meterValue", [])),
            )
        if token is None:
            return {}
        found = await authorization.at_start(rt, charge_point_id, token, answer)
        if not answer.accepted:
            await charger_transactions.start_answered(
                rt, charge_point_id, answer.transaction_id, found.verdict
            )
        return id_token_info(found)

    async def reservation_status_update(payload: Payload) -> Payload:
        await charger_reservations.status_update(
            rt,
            charge_point_id,
            payload["reservationId"],
            payload["reservationUpdateStatus"] == ReservationUpdateStatusEnumType.expired,
        )
        return {}

    async def meter_values(payload: Payload) -> Payload:
        await charger_transactions.port_meter_reading(
            rt,
            charge_point_id,
            payload["evseId"],
            energy_wh(payload["meterValue"], refuse=True),
            draw(payload["meterValue"]),
        )
        return {}

    async def notify_report(payload: Payload) -> Payload:
        report_data = payload.get("reportData", [])
        part = charger_configuration.ReportPart(
            request_id=payload["requestId"],
            seq_no=payload["seqNo"],
            tbc=payload.get("tbc", False),
            report_data=report_data,
            entries=report_entries(report_data),
        )
        await charger_configuration.report_part(rt, charge_point_id, part)
        return {}

    return {
        **{action: acknowledge for action in ACKNOWLEDGED},
        **shared_handlers(rt, charge_point_id),
        Action.boot_notification: boot_notification,
        Action.status_notification: status_notification,
        Action.authorize: authorize,
        Action.transaction_event: transaction_event,
        Action.meter_values: meter_values,
        Action.reservation_status_update: reservation_status_update,
        **file_transfers.status_handlers(
            rt,
            charge_point_id,
            Action.firmware_status_notification,
            Action.log_status_notification,
        ),
        Action.notify_report: notify_report,
    }

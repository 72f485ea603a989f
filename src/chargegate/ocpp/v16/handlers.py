"""Handlers for the CALLs a 1.6J charger sends. They translate; the services decide."""

from __future__ import annotations

from collections.abc import Callable

from ocpp.v16.enums import Action, Reason

from chargegate.domain.reports import BootReport
from chargegate.domain.times import utcnow
from chargegate.ocpp import file_transfers
from chargegate.ocpp.common import boot_accepted, shared_handlers
from chargegate.ocpp.meter import draw, energy_wh, register_wh
from chargegate.ocpp.payloads import timestamp
from chargegate.ocpp.rpc import Handler, Payload
from chargegate.ocpp.v16 import orders
from chargegate.ocpp.v16.id_tag_info import id_tag_info
from chargegate.services import (
    authorization,
    charger_reports,
    charger_reservations,
    charger_transactions,
    connectors,
    stops,
)
from chargegate.services.runtime import Runtime


def build(rt: Runtime, charge_point_id: str, on_boot: Callable[[], None]) -> dict[str, Handler]:
    async def boot_notification(payload: Payload) -> Payload:
        await charger_reports.booted(
            rt,
            BootReport(
                charge_point_id,
                payload["chargePointVendor"],
                payload["chargePointModel"],
                utcnow(),
                # chargeBoxSerialNumber is the deprecated name of the same.
                payload.get("chargePointSerialNumber", payload.get("chargeBoxSerialNumber")),
                payload.get("firmwareVersion"),
            ),
        )
        return boot_accepted(rt, on_boot)

    async def status_notification(payload: Payload) -> Payload:
        at = timestamp(payload["timestamp"]) if "timestamp" in payload else utcnow()
        await charger_reports.status_changed(
            rt,
            charge_point_id,
            payload["connectorId"],
            payload["status"],
            payload.get("errorCode"),
            at,
        )
        await stops.connector_reported(
            rt, charge_point_id, payload["connectorId"], payload["status"] in orders.IDLE, at
        )
        return {}

    async def authorize(payload: Payload) -> Payload:
        found = await authorization.authorize(rt, charge_point_id, payload["idTag"])
        return {"idTagInfo": id_tag_info(found)}

    async def start_transaction(payload: Payload) -> Payload:
        answer = await charger_transactions.transaction_started(
            rt,
            charge_point_id,
            connector_id=payload["connectorId"],
            id_tag=payload["idTag"],
            meter_start_wh=register_wh(payload["meterStart"]),
            at=timestamp(payload["timestamp"]),
        )
        if "reservationId" in payload:
            await charger_reservations.used(
                rt, charge_point_id, payload["reservationId"], answer.transaction_id
            )
        found = await authorization.at_start(rt, charge_point_id, payload["idTag"], answer)
        if not answer.accepted:
            await charger_transactions.start_answered(
                rt, charge_point_id, answer.transaction_id, found.verdict
            )
        return {"transactionId": answer.transaction_id, "idTagInfo": id_tag_info(found)}

    async def stop_transaction(payload: Payload) -> Payload:
        await charger_transactions.transaction_stopped(
            rt,
            charge_point_id,
            payload["transactionId"],
            register_wh(payload["meterStop"]),
            timestamp(payload["timestamp"]),
            # Left out, the reason is Local (StopTransaction.req).
            payload.get("reason", Reason.local),
        )
        if "idTag" in payload:
            found = await authorization.at_stop(rt, charge_point_id, payload["idTag"])
            return {"idTagInfo": id_tag_info(found)}
        return {}

    async def meter_values(payload: Payload) -> Payload:
        # Readings go by transaction, but a connector that is not a port is refused all the same.
        await connectors.require(rt, charge_point_id, payload["connectorId"], station=True)
        reading = energy_wh(payload["meterValue"], refuse=True)
        if "transactionId" in payload:
            await charger_transactions.meter_reading(
                rt, charge_point_id, payload["transactionId"], reading, draw(payload["meterValue"])
            )
        return {}

    return {
        **shared_handlers(rt, charge_point_id),
        Action.boot_notification: boot_notification,
        Action.status_notification: status_notification,
        Action.authorize: authorize,
        Action.start_transaction: start_transaction,
        Action.stop_transaction: stop_transaction,
        Action.meter_values: meter_values,
        **file_transfers.status_handlers(
            rt,
            charge_point_id,
            Action.firmware_status_notification,
            Action.diagnostics_status_notification,
        ),
    }

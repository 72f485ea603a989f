"""How the simulated charger answers the operator's commands: Reset, UnlockConnector,
ChangeAvailability, TriggerMessage and DataTransfer, in either OCPP version, as real stations
do (OCTT TC_013/014, TC_017/018/031, TC_054/055; 2.0.1 TC_B_20/21/22)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chargegate.ocpp.rpc import Handler, Payload
from chargegate.sim.dialects import Connector

if TYPE_CHECKING:
    from chargegate.sim.charger import SimulatedCharger

# The vendor whose DataTransfer the simulator knows: it echoes the data back.
VENDOR_ID = "org.chargegate.sim"
# 1.6 reset types and their StopTransaction reasons; 2.0.1 ends transactions ImmediateReset.
_V16_RESET_REASON = {"Hard": "HardReset", "Soft": "SoftReset"}


def handlers(sim: SimulatedCharger) -> dict[str, Handler]:
    v16 = sim.dialect.subprotocol == "ocpp1.6"

    async def reset(payload: Payload) -> Payload:
        sim.received.append(("Reset", payload))
        await sim.notify()
        await sim.held()
        if sim.reset != "Accepted":
            return {"status": sim.reset}
        if v16:
            sim.spawn(sim.reboot(_V16_RESET_REASON[payload["type"]]))
            return {"status": "Accepted"}
        evse = payload.get("evseId")
        if evse is not None and evse not in sim.connectors:
            return {"status": "Rejected"}
        if payload["type"] == "OnIdle" and _busy(sim, evse):
            # Once no transaction runs (B11.FR.04): the answer says it waits.
            sim.spawn(sim.reboot_when_idle())
            return {"status": "Scheduled"}
        if evse is not None:
            sim.spawn(sim.end_transaction(evse, "ImmediateReset"))
        else:
            sim.spawn(sim.reboot("ImmediateReset"))
        return {"status": "Accepted"}

    async def unlock_connector(payload: Payload) -> Payload:
        sim.received.append(("UnlockConnector", payload))
        await sim.notify()
        connector = sim.connectors.get(payload.get("connectorId" if v16 else "evseId", 0))
        if v16 and connector is None:
            return {"status": "NotSupported"}  # TC_031: an unknown connector
        if connector is None or (not v16 and payload["connectorId"] != 1):
            return {"status": "UnknownConnector"}
        if sim.unlock != "Unlocked" or connector.transaction_id is None:
            return {"status": sim.unlock}
        if not v16:
            # 2.0.1 (F05.FR.02): a transaction holds the cable; it is stopped first, remotely.
            return {"status": "OngoingAuthorizedTransaction"}
        # 1.6 (TC_018): the transaction ends first, for the driver to take the cable.
        sim.spawn(sim.end_transaction(connector.connector_id, "UnlockCommand"))
        return {"status": "Unlocked"}

    async def change_availability(payload: Payload) -> Payload:
        sim.received.append(("ChangeAvailability", payload))
        await sim.notify()
        if sim.availability != "Accepted":
            return {"status": sim.availability}
        if v16:
            port, wanted = payload["connectorId"], payload["type"]
        else:
            port, wanted = payload.get("evse", {}).get("id", 0), payload["operationalStatus"]
        targets = [sim.connectors[port]] if port in sim.connectors else []
        if port == 0:
            targets = list(sim.connectors.values())
        if not targets:
            return {"status": "Rejected"}
        status = "Available" if wanted == "Operative" else "Unavailable"
        busy = any(connector.transaction_id is not None for connector in targets)
        sim.spawn(sim.set_availability(targets, status))
        return {"status": "Scheduled" if busy and status == "Unavailable" else "Accepted"}

    async def trigger_message(payload: Payload) -> Payload:
        sim.received.append(("TriggerMessage", payload))
        await sim.notify()
        if sim.triggers != "Accepted":
            return {"status": sim.triggers}
        port = payload.get("connectorId") if v16 else payload.get("evse", {}).get("id")
        connectors = list(sim.connectors.values())
        if port is not None:
            connectors = [sim.connectors[port]] if port in sim.connectors else []
            if not connectors:
                return {"status": "Rejected"}
        match payload["requestedMessage"]:
            case "StatusNotification":
                for connector in connectors:
                    sim.enqueue(sim.dialect.status(connector), durable=False)
            case "Heartbeat":
                sim.enqueue(("Heartbeat", {}), durable=False)
            case "BootNotification":
                boot = sim.dialect.boot(sim.firmware_version)
                if not v16:
                    boot[1]["reason"] = "Triggered"
                sim.enqueue(boot, durable=False)
            case _:
                return {"status": "NotImplemented"}
        return {"status": "Accepted"}

    async def data_transfer(payload: Payload) -> Payload:
        sim.received.append(("DataTransfer", payload))
        await sim.notify()
        if payload["vendorId"] != VENDOR_ID:
            return {"status": "UnknownVendorId"}
        if payload.get("messageId") not in (None, "echo"):
            return {"status": "UnknownMessageId"}
        answer: Payload = {"status": sim.data_transfer}
        if "data" in payload:
            answer["data"] = payload["data"]
        return answer

    found: dict[str, Handler] = {"TriggerMessage": trigger_message}
    for action, handler, answer in (
        ("Reset", reset, sim.reset),
        ("UnlockConnector", unlock_connector, sim.unlock),
        ("ChangeAvailability", change_availability, sim.availability),
        ("DataTransfer", data_transfer, sim.data_transfer),
    ):
        # None: a charger without the message, which answers NotSupported / NotImplemented.
        if answer is not None:
            found[action] = handler
    return found


def _busy(sim: SimulatedCharger, evse: int | None) -> bool:
    connectors: list[Connector] = list(sim.connectors.values())
    if evse is not None:
        connectors = [sim.connectors[evse]]
    return any(connector.transaction_id is not None for connector in connectors)

"""How the simulated charger answers the server's CALLs: starts and stops (refusals included),
ClearCache (configuration: sim.configuration; the operator's other
commands: sim.operations)."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from chargegate.ocpp.rpc import Handler, Payload
from chargegate.sim import (
    configuration,
    firmware,
    local_list,
    operations,
    quirks,
    reservations,
    smart_charging,
)
from chargegate.sim.charging_profiles import TX

if TYPE_CHECKING:
    from chargegate.sim.charger import SimulatedCharger


def handlers(sim: SimulatedCharger) -> dict[str, Handler]:
    """Its answers to the server's CALLs, as real stations give them."""

    async def remote_start(payload: Payload) -> Payload:
        sim.received.append((sim.dialect.start_request, payload))
        await sim.notify()
        connector_id = int(payload.get("connectorId") or payload.get("evseId") or 1)
        id_tag = payload["idTag"] if "idTag" in payload else payload["idToken"]["idToken"]
        connector = sim.connectors.get(connector_id)
        remote_start_id = payload.get("remoteStartId")
        if (
            not sim.accept_remote_start
            or connector is None
            or connector.id_tag is not None
            or not reservations.take(sim, connector, id_tag)
        ):
            if sim.bad_strings:
                raise quirks.bad_refusal()
            return {"status": "Rejected"}
        if connector.transaction_id is not None:
            if not sim.dialect.starts_on_plug_in:
                return {"status": "Rejected"}
            # Cable first: the answer names the transaction this start authorises.
            connector.id_tag = id_tag
            sim.spawn(sim.authorise(connector_id, id_tag, remote_start_id))
            return {"status": "Accepted", "transactionId": connector.transaction_id}
        profile = payload.get("chargingProfile")
        if profile is not None and sim.smart_charging:
            # A start's profile is its transaction's TxProfile (1.6 5.11, 2.0.1 F01.FR.09):
            # a station refuses the start with one of another purpose.
            if profile["chargingProfilePurpose"] != TX:
                return {"status": "Rejected"}
            smart_charging.take(sim, connector_id, profile, with_start=True)
        answer: Payload = {"status": "Accepted"}
        if sim.start_answer_names_transaction and sim.dialect.starts_on_plug_in:
            connector.next_transaction_id = answer["transactionId"] = str(uuid.uuid4())
        if sim.ev_plugged_in:
            connector.id_tag = id_tag
            sim.spawn(sim.begin_transaction(connector_id, id_tag, remote_start_id))
        return answer

    async def remote_stop(payload: Payload) -> Payload:
        sim.received.append((sim.dialect.stop_request, payload))
        await sim.notify()
        if sim.refuse_stops > 0:
            sim.refuse_stops -= 1
            return {"status": "Rejected"}
        for connector in sim.connectors.values():
            if connector.transaction_id == payload["transactionId"]:
                sim.spawn(sim.stop_later(connector.connector_id))
                await asyncio.sleep(sim.stop_answer_delay_s)
                return {"status": "Accepted"}
        return {"status": "Rejected"}

    async def get_transaction_status(payload: Payload) -> Payload:
        sim.received.append(("GetTransactionStatus", payload))
        await sim.notify()
        ongoing = any(
            c.transaction_id == payload.get("transactionId") for c in sim.connectors.values()
        )
        queued = any(item.durable for item in sim.outbox)
        return {"ongoingIndicator": ongoing, "messagesInQueue": queued}

    async def clear_cache(payload: Payload) -> Payload:
        sim.received.append(("ClearCache", payload))
        await sim.notify()
        await sim.held()
        return {"status": sim.clear_cache}

    handlers: dict[str, Handler] = {
        sim.dialect.start_request: remote_start,
        sim.dialect.stop_request: remote_stop,
    }
    if sim.clear_cache is not None:
        handlers["ClearCache"] = clear_cache
    handlers.update(local_list.handlers(sim))
    handlers.update(reservations.handlers(sim))
    handlers.update(firmware.handlers(sim))
    handlers.update(operations.handlers(sim))
    handlers.update(configuration.handlers(sim))
    handlers.update(smart_charging.handlers(sim))
    if sim.dialect.subprotocol != "ocpp1.6":
        handlers["GetTransactionStatus"] = get_transaction_status
    return handlers

"""How the simulated charger words its messages in each OCPP version."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chargegate.domain.times import format_ocpp, utcnow
from chargegate.ocpp.rpc import Payload

# What the simulator says of itself at boot.
SERIAL_NUMBER = "SIM-0001"
FIRMWARE_VERSION = "1.0"


@dataclass(slots=True)
class Connector:
    connector_id: int
    status: str = "Available"
    id_tag: str | None = None
    # 1.6: the id the server gave us; 2.0.1: the id we made up.
    transaction_id: int | str | None = None
    remote_start_id: int | None = None
    # The reservation the next start uses (named in it).
    reservation_id: int | None = None
    # 2.0.1: the id already named in the answer to the start that begins the next transaction.
    next_transaction_id: str | None = None
    meter_wh: int = 0
    seq_no: int = 0
    # When its transaction began (a Relative profile counts from it); None: none runs.
    started_at: datetime | None = None


class Dialect(Protocol):
    subprotocol: str
    start_request: str
    stop_request: str
    # Whether a transaction may begin when the cable goes in, before anyone is authorised.
    starts_on_plug_in: bool

    def boot(self, firmware_version: str) -> tuple[str, Payload]: ...

    def status(self, connector: Connector) -> tuple[str, Payload]: ...

    def started(self, connector: Connector) -> tuple[str, Payload]: ...

    def metered(self, connector: Connector) -> tuple[str, Payload]: ...

    def stopped(self, connector: Connector, reason: str) -> tuple[str, Payload]: ...

    def authorised(self, connector: Connector) -> tuple[str, Payload]: ...

    def authorize(self, id_tag: str) -> tuple[str, Payload]: ...


def _energy(connector: Connector, unit_key: str) -> Payload:
    sampled: Payload = {"value": connector.meter_wh, "measurand": "Energy.Active.Import.Register"}
    if unit_key == "unit":
        sampled.update(value=str(connector.meter_wh), unit="Wh")
    else:
        sampled["unitOfMeasure"] = {"unit": "Wh"}
    return {"timestamp": format_ocpp(utcnow()), "sampledValue": [sampled]}


class V16:
    subprotocol = "ocpp1.6"
    start_request = "RemoteStartTransaction"
    stop_request = "RemoteStopTransaction"
    starts_on_plug_in = False

    def boot(self, firmware_version: str) -> tuple[str, Payload]:
        return "BootNotification", {
            "chargePointVendor": "chargegate",
            "chargePointModel": "sim",
            "chargePointSerialNumber": SERIAL_NUMBER,
            "firmwareVersion": firmware_version,
        }

    def status(self, connector: Connector) -> tuple[str, Payload]:
        return "StatusNotification", {
            "connectorId": connector.connector_id,
            "errorCode": "NoError",
            "status": connector.status,
            "timestamp": format_ocpp(utcnow()),
        }

    def started(self, connector: Connector) -> tuple[str, Payload]:
        payload: Payload = {
            "connectorId": connector.connector_id,
            "idTag": connector.id_tag,
            "meterStart": connector.meter_wh,
            "timestamp": format_ocpp(utcnow()),
        }
        if connector.reservation_id is not None:
            payload["reservationId"] = connector.reservation_id
        return "StartTransaction", payload

    def metered(self, connector: Connector) -> tuple[str, Payload]:
        payload: Payload = {
            "connectorId": connector.connector_id,
            "meterValue": [_energy(connector, "unit")],
        }
        if connector.transaction_id is not None:
            payload["transactionId"] = connector.transaction_id
        return "MeterValues", payload

    def stopped(self, connector: Connector, reason: str) -> tuple[str, Payload]:
        payload: Payload = {
            "transactionId": connector.transaction_id,
            "meterStop": connector.meter_wh,
            "timestamp": format_ocpp(utcnow()),
            "reason": reason,
        }
        if connector.id_tag is not None:
            payload["idTag"] = connector.id_tag
        return "StopTransaction", payload

    def authorised(self, connector: Connector) -> tuple[str, Payload]:
        raise NotImplementedError("a 1.6 transaction begins authorised")

    def authorize(self, id_tag: str) -> tuple[str, Payload]:
        return "Authorize", {"idTag": id_tag}


_V201_STATUS = {
    "Available": "Available",
    "Unavailable": "Unavailable",
    "Faulted": "Faulted",
    "Reserved": "Reserved",
}
_V201_REASON = {
    "Remote": "Remote",
    "Local": "Local",
    "EVDisconnected": "EVDisconnected",
    "ImmediateReset": "ImmediateReset",
}
# Why an Ended event is sent (triggerReason), by the reason a transaction ends.
_V201_TRIGGER = {"Remote": "RemoteStop", "ImmediateReset": "ResetCommand"}


class V201:
    subprotocol = "ocpp2.0.1"
    start_request = "RequestStartTransaction"
    stop_request = "RequestStopTransaction"
    starts_on_plug_in = True

    def boot(self, firmware_version: str) -> tuple[str, Payload]:
        return "BootNotification", {
            "reason": "PowerUp",
            "chargingStation": {
                "vendorName": "chargegate",
                "model": "sim",
                "serialNumber": SERIAL_NUMBER,
                "firmwareVersion": firmware_version,
            },
        }

    def status(self, connector: Connector) -> tuple[str, Payload]:
        return "StatusNotification", {
            "timestamp": format_ocpp(utcnow()),
            "connectorStatus": _V201_STATUS.get(connector.status, "Occupied"),
            "evseId": connector.connector_id,
            "connectorId": 1,
        }

    def _event(self, connector: Connector, event: str, trigger: str) -> Payload:
        connector.seq_no += 1
        info: Payload = {"transactionId": connector.transaction_id}
        if connector.remote_start_id is not None:
            info["remoteStartId"] = connector.remote_start_id
        return {
            "eventType": event,
            "timestamp": format_ocpp(utcnow()),
            "triggerReason": trigger,
            "seqNo": connector.seq_no,
            "transactionInfo": info,
            "evse": {"id": connector.connector_id, "connectorId": 1},
            "meterValue": [_energy(connector, "unitOfMeasure")],
        }

    def started(self, connector: Connector) -> tuple[str, Payload]:
        connector.transaction_id = connector.next_transaction_id or str(uuid.uuid4())
        connector.next_transaction_id = None
        connector.seq_no = -1
        if connector.id_tag is None:
            return "TransactionEvent", self._event(connector, "Started", "CablePluggedIn")
        payload = self._presented(connector, "Started")
        if connector.reservation_id is not None:
            payload["reservationId"] = connector.reservation_id
        return "TransactionEvent", payload

    def authorised(self, connector: Connector) -> tuple[str, Payload]:
        return "TransactionEvent", self._presented(connector, "Updated")

    def _presented(self, connector: Connector, event: str) -> Payload:
        """The event that carries the token: the server's (Central) after a remote start, else
        the driver's card, held to the reader (ISO14443)."""
        remote = connector.remote_start_id is not None
        payload = self._event(connector, event, "RemoteStart" if remote else "Authorized")
        payload["idToken"] = {
            "idToken": connector.id_tag,
            "type": "Central" if remote else "ISO14443",
        }
        return payload

    def metered(self, connector: Connector) -> tuple[str, Payload]:
        return "TransactionEvent", self._event(connector, "Updated", "MeterValuePeriodic")

    def stopped(self, connector: Connector, reason: str) -> tuple[str, Payload]:
        payload = self._event(connector, "Ended", _V201_TRIGGER.get(reason, "StopAuthorized"))
        payload["transactionInfo"]["stoppedReason"] = _V201_REASON.get(reason, "Other")
        if reason == "Local" and connector.remote_start_id is None and connector.id_tag:
            # The driver ends a card session with the card (E07): the station sends it along.
            payload["idToken"] = _card(connector.id_tag)
        return "TransactionEvent", payload

    def authorize(self, id_tag: str) -> tuple[str, Payload]:
        return "Authorize", {"idToken": _card(id_tag)}


def _card(id_tag: str) -> Payload:
    return {"idToken": id_tag, "type": "ISO14443"}


DIALECTS: dict[str, Dialect] = {"1.6": V16(), "2.0.1": V201()}

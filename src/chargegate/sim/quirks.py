"""Faults of real chargers the simulator can have on purpose (SimulatedCharger's `bad_strings`
and `bad_meter`): text that no database column takes, and meter readings that no meter makes.
Each rewrites a message the dialect worded, in either OCPP version."""

from __future__ import annotations

from typing import assert_never

from ocpp.exceptions import GenericError
from ocpp.v16.enums import Action
from ocpp.v201.enums import Action as Action201
from ocpp.v201.enums import TransactionEventEnumType

from chargegate.ocpp.rpc import ErrorAnswer, Payload

Message = tuple[str, Payload]

# A lone surrogate (a valid JSON escape, but not Unicode text) and a NUL (PostgreSQL text cannot
# hold one).
BAD_TEXT = "\ud800\x00"
# The CALLERROR a charger with bad strings refuses a start with: both parts unstorable, and
# longer than OCPP-J allows (an error code is one of a few names; a description 255 at most).
BAD_ERROR_CODE = f"{GenericError.code}{BAD_TEXT}{'x' * 60}"
BAD_ERROR_DESCRIPTION = f"refused{BAD_TEXT}{'y' * 300}"

# A 2.0.1 multiplier that makes 10 ** multiplier run for hours; energy no meter column holds.
BAD_MULTIPLIER = 2**31 - 1
HUGE_WH = 2**63


def bad_strings(message: Message) -> Message:
    """Puts BAD_TEXT into the vendor and firmware of a boot, and into the status info, vendor
    id and vendor error code of a status report (2.0.1 has none: its customData then)."""
    action, payload = message
    if action == Action.boot_notification:
        identity = payload.get("chargingStation", payload)
        vendor = "vendorName" if "vendorName" in identity else "chargePointVendor"
        identity[vendor] += BAD_TEXT
        identity["firmwareVersion"] = f"1.0{BAD_TEXT}"
    elif action == Action.status_notification:
        words = {
            "vendorId": f"sim{BAD_TEXT}",
            "vendorErrorCode": f"E{BAD_TEXT}",
            "info": f"info{BAD_TEXT}",
        }
        if "errorCode" in payload:  # 1.6
            payload.update(words)
        else:
            payload["customData"] = words
    return action, payload


def bad_refusal() -> ErrorAnswer:
    """What a charger with bad strings refuses a start with, raised by its handler."""
    return ErrorAnswer(BAD_ERROR_CODE, BAD_ERROR_DESCRIPTION)


def bad_meter(message: Message) -> Message:
    """Meter readings that cannot be stored in every start, stop and meter report: 1.6 meterStart
    and meterStop beyond 32 and 64 bits and "NaN" readings; a 2.0.1 Started event with the
    multiplier 2147483647, Updated with NaN, Ended with Infinity and 1e15 kWh."""
    action, payload = message
    if action == Action.start_transaction:
        payload["meterStart"] = 2**40
    elif action == Action.stop_transaction:
        payload["meterStop"] = HUGE_WH
    elif action == Action.meter_values:
        _sampled(payload)[0]["value"] = "NaN"
    elif action == Action201.transaction_event:
        sampled = _sampled(payload)
        event = TransactionEventEnumType(payload["eventType"])
        match event:
            case TransactionEventEnumType.started:
                sampled[0]["unitOfMeasure"]["multiplier"] = BAD_MULTIPLIER
            case TransactionEventEnumType.updated:
                sampled[0]["value"] = float("nan")
            case TransactionEventEnumType.ended:
                sampled[0]["value"] = float("inf")
                sampled.append({**sampled[0], "value": 1e15, "unitOfMeasure": {"unit": "kWh"}})
            case _:
                assert_never(event)
    return action, payload


def _sampled(payload: Payload) -> list[Payload]:
    sampled: list[Payload] = payload["meterValue"][0]["sampledValue"]
    return sampled

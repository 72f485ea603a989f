"""Numbers from chargers (issue 11, defect 4): a meter reading that is NaN or Infinity, carries a
2.0.1 multiplier outside -9..9 (2147483647 kept the event loop busy for hours computing
10 ** multiplier), or is beyond what a meter column holds (32 bits) is skipped and counted,
and never keeps a start or a stop from being recorded. Other integers beyond 32 bits get a
TypeConstraintViolation where the schema says integer, and pass where it does not. Real server,
real sockets, simulated and hand-driven chargers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chargegate.domain.charger_input import SkippedReading
from chargegate.domain.times import format_ocpp, utcnow
from support import (
    Charger,
    Operator,
    RawCharger,
    Server,
    Simulators,
    accepted_cards,
    eventually,
    metric,
    online,
    poll_queue,
    raw_charger,
    start_session,
    stop_session,
    transactions,
)

# An API answer slower than this is not prompt (loose: the machine may be loaded).
PROMPT_S = 10.0
TYPE_ERROR = "TypeConstraintViolation"


def skipped(why: SkippedReading) -> str:
    return f'chargegate_meter_readings_skipped_total{{why="{why.value}"}}'


# What the simulator's bad_meter readings are skipped as, at least, per OCPP version: 1.6
# meterStart 2**40 and meterStop 2**63, MeterValues "NaN"; 2.0.1 a Started event with the
# multiplier 2147483647, Updated with NaN, Ended with Infinity and 1e15 kWh.
SIM_SKIPS = {
    "1.6": {SkippedReading.OUT_OF_RANGE: 2, SkippedReading.NON_FINITE: 1},
    "2.0.1": {
        SkippedReading.MULTIPLIER: 1,
        SkippedReading.NON_FINITE: 2,
        SkippedReading.OUT_OF_RANGE: 1,
    },
}


async def test_a_session_with_unstorable_meter_values_opens_and_ends_closed(
    server: Server, simulators: Simulators
) -> None:
    """Before, 1.6 start and stop were refused (TypeConstraintViolation) for their meter
    readings, and a 2.0.1 Started event with the multiplier kept the server from answering
    anything at all."""
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(simulators, server, charger, bad_meter=True, meter_interval_s=0.2)
    version = simulators.ocpp_version
    async with httpx.AsyncClient(
        base_url=server.api, headers=operator.headers, timeout=PROMPT_S
    ) as client:
        created = await start_session(client, charger.port)
        # Every GET of the start's progress is answered within PROMPT_S while the charger's
        # start report is handled.
        opened = await poll_queue(client, created["queue_uuid"])
        assert opened.get("state") == "Open", opened
        assert opened["energy_wh"] is None, opened  # no usable meter reading

        async def periodic_reading_skipped() -> bool:
            return await metric(server, skipped(SkippedReading.NON_FINITE)) >= 1

        await eventually(periodic_reading_skipped)
        done = await stop_session(client, created["transaction_uuid"])
    assert done["state"] == "Closed" and done["energy_wh"] is None, done
    assert sim.online
    for why, least in SIM_SKIPS[version].items():
        assert await metric(server, skipped(why)) >= least, why


@pytest.fixture(params=["ocpp1.6", "ocpp2.0.1"])
async def raw(
    request: pytest.FixtureRequest, op: Operator
) -> AsyncIterator[tuple[RawCharger, Charger]]:
    """A charger of either version, driven frame by frame."""
    async with raw_charger(op, request.param) as connected:
        yield connected


def raw_version(raw: RawCharger) -> str:
    return str(raw.ws.subprotocol)


def sampled(value: str) -> str:
    """Meter values with one energy reading, whose JSON text is `value`."""
    at = format_ocpp(utcnow())
    return f'[{{"timestamp":"{at}","sampledValue":[{{"value":{value}}}]}}]'


async def test_nan_and_infinity_tokens_are_unusable_readings_or_a_type_error(
    raw: tuple[RawCharger, Charger], op: Operator
) -> None:
    """NaN and Infinity are not JSON (RFC 8259), but a frame holding them is parsed the same
    way every time: as the floats they name, which 1e999 (JSON) also parses as. In a meter
    value they are readings no meter makes, which refuse a MeterValues (it carries nothing
    else) with PropertyConstraintViolation; where the schema wants an integer or a string they
    are a TypeConstraintViolation. Before, a 2.0.1 reading of NaN (and a 1.6 "NaN") was an
    InternalError."""
    charger, _ = raw
    v16 = raw_version(charger) == "ocpp1.6"
    before = await metric(op.server, skipped(SkippedReading.NON_FINITE))
    readings = ['"NaN"', '"Infinity"', '"-Infinity"'] if v16 else ["NaN", "Infinity", "-1e999"]
    port = '"connectorId":1' if v16 else '"evseId":1'
    for reading in readings:
        answer = await charger.exchange(
            "MeterValues", f'{{{port},"meterValue":{sampled(reading)}}}'
        )
        assert answer[0] == 4 and answer[2] == "PropertyConstraintViolation", (reading, answer)
    assert await metric(op.server, skipped(SkippedReading.NON_FINITE)) == before + 3
    where = "connectorId" if v16 else "evseId"
    usable = sampled('"10"' if v16 else "10")
    for token in ("NaN", "Infinity", "-Infinity"):
        answer = await charger.exchange(
            "MeterValues", f'{{"{where}":{token},"meterValue":{usable}}}'
        )
        assert answer[0] == 4 and answer[2] == TYPE_ERROR, (token, answer)
    if v16:  # 1.6 meter values are strings
        answer = await charger.exchange("MeterValues", f'{{{port},"meterValue":{sampled("NaN")}}}')
        assert answer[0] == 4 and answer[2] == TYPE_ERROR, answer


def started(raw: RawCharger, meter: str) -> tuple[str, str]:
    """A transaction begun at the charger, with this meter reading (JSON text)."""
    at = format_ocpp(utcnow())
    if raw_version(raw) == "ocpp1.6":
        return "StartTransaction", (
            f'{{"connectorId":1,"idTag":"CARD-1","meterStart":{meter},"timestamp":"{at}"}}'
        )
    event = {
        "eventType": "Started",
        "timestamp": at,
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "T-BIG"},
        "evse": {"id": 1, "connectorId": 1},
        "idToken": {"idToken": "CARD-1", "type": "ISO14443"},
    }
    return "TransactionEvent", json.dumps(event)[:-1] + f',"meterValue":{sampled(meter)}}}'


def ended(raw: RawCharger, transaction: Any, meter: str) -> tuple[str, str]:
    at = format_ocpp(utcnow())
    if raw_version(raw) == "ocpp1.6":
        return "StopTransaction", (
            f'{{"transactionId":{transaction},"meterStop":{meter},"timestamp":"{at}"}}'
        )
    event = {
        "eventType": "Ended",
        "timestamp": at,
        "triggerReason": "EVDeparted",
        "seqNo": 1,
        "transactionInfo": {"transactionId": "T-BIG", "stoppedReason": "EVDisconnected"},
    }
    return "TransactionEvent", json.dumps(event)[:-1] + f',"meterValue":{sampled(meter)}}}'


async def test_integers_beyond_32_bits_are_refused_only_where_the_schema_says_integer(
    raw: tuple[RawCharger, Charger], op: Operator
) -> None:
    """A connector beyond 32 bits is a TypeConstraintViolation (OCPP 2.0.1 defines its integer
    as 32 bits, and our columns hold no more). A meter reading that large is skipped, and the
    transaction still begins and ends; a large number in 2.0.1 customData, which has no schema,
    passes. Before, any integer of ten digits or more anywhere in a frame was refused."""
    sender, charger = raw
    await accepted_cards(op, "CARD-1")
    v16 = raw_version(sender) == "ocpp1.6"
    at = format_ocpp(utcnow())
    status = (
        f'{{"connectorId":{2**31},"errorCode":"NoError","status":"Available"}}'
        if v16
        else f'{{"timestamp":"{at}","connectorStatus":"Available","evseId":{2**31},'
        '"connectorId":1}'
    )
    answer = await sender.exchange("StatusNotification", status)
    assert answer[0] == 4 and answer[2] == TYPE_ERROR, answer
    assert "32 bits" in answer[3], answer
    if not v16:
        heartbeat = '{"customData":{"vendorId":"acme","sentAtMs":1767225600000}}'
        answer = await sender.exchange("Heartbeat", heartbeat)
        assert answer[0] == 3, answer

    before = await metric(op.server, skipped(SkippedReading.OUT_OF_RANGE))
    answer = await sender.exchange(*started(sender, str(2**40) if v16 else "99999999999"))
    assert answer[0] == 3, answer
    transaction = answer[2].get("transactionId")
    answer = await sender.exchange(*ended(sender, transaction, str(2**63) if v16 else "1e15"))
    assert answer[0] == 3, answer
    assert await metric(op.server, skipped(SkippedReading.OUT_OF_RANGE)) == before + 2
    async with op.client() as client:
        [recorded] = await transactions(client, charger.port)
    assert recorded["state"] == "Closed" and recorded["energy_wh"] is None, recorded

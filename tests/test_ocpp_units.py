"""Pure pieces of the charger side, tested without sockets."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from ocpp.messages import get_validator

from chargegate.domain.charger_input import SkippedReading, reading_wh, storable_text
from chargegate.domain.command_params import from_json, to_json
from chargegate.domain.file_transfers import (
    LOCATION_201_MAX,
    SIGNATURE_MAX,
    SIGNING_CERTIFICATE_MAX,
    DiagnosticsParams,
    FirmwareParams,
)
from chargegate.domain.states import ChargerAction
from chargegate.ocpp.connections import (
    REPLACED,
    TAKEN_OVER_KEPT,
    Connection,
    ConnectionRegistry,
    Superseded,
)
from chargegate.ocpp.endpoint import basic_auth_password
from chargegate.ocpp.incoming import beyond_int32, clean_strings
from chargegate.ocpp.meter import energy_wh, register_wh
from chargegate.ocpp.rpc import CALL, CallFailed
from chargegate.ocpp.v16 import orders as v16_orders
from chargegate.ocpp.v201 import orders as v201_orders
from chargegate.ocpp.versions import negotiate
from chargegate.services.commands import Order


def sample(value: str, **fields: str) -> dict[str, object]:
    return {"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": value, **fields}]}


def test_energy_reading_defaults_to_the_energy_register_in_wh() -> None:
    assert energy_wh([sample("1234")]) == 1234
    assert energy_wh([sample("1.5", unit="kWh")]) == 1500
    assert energy_wh([sample("12", measurand="Power.Active.Import", unit="W")]) is None
    assert energy_wh([sample("7", phase="L1")]) is None
    assert energy_wh([sample("not a number")]) is None
    assert energy_wh([sample("10"), sample("25")]) == 25


def test_an_energy_reading_no_meter_column_holds_is_skipped() -> None:
    assert reading_wh("NaN") is SkippedReading.NON_FINITE
    assert reading_wh(float("-inf")) is SkippedReading.NON_FINITE
    assert reading_wh("1e999") is SkippedReading.NON_FINITE  # parses as infinity
    assert reading_wh(10**400) is SkippedReading.OUT_OF_RANGE  # too large for a float
    assert reading_wh(2**31) is SkippedReading.OUT_OF_RANGE
    assert reading_wh(2**31 - 1) == 2**31 - 1
    assert reading_wh(3e6, unit="kWh") is SkippedReading.OUT_OF_RANGE
    assert reading_wh(1e308, multiplier=9) is SkippedReading.OUT_OF_RANGE  # scaled beyond floats
    assert reading_wh("x") is SkippedReading.UNPARSEABLE
    assert reading_wh(None) is SkippedReading.UNPARSEABLE
    assert reading_wh(True) is SkippedReading.UNPARSEABLE
    assert reading_wh(12, multiplier=10) is SkippedReading.MULTIPLIER
    assert reading_wh(12, multiplier=True) is SkippedReading.MULTIPLIER
    assert reading_wh(12, multiplier=-9) == 0
    assert reading_wh(1.5, multiplier=3, unit="kWh") == 1_500_000


def unit_sample(value: Any, multiplier: int) -> dict[str, object]:
    unit = {"unit": "Wh", "multiplier": multiplier}
    return {
        "timestamp": "2026-01-01T00:00:00Z",
        "sampledValue": [{"value": value, "unitOfMeasure": unit}],
    }


def test_a_huge_multiplier_is_skipped_at_once() -> None:
    """10 ** 2147483647 ran for hours on the event loop."""
    began = time.monotonic()
    assert energy_wh([unit_sample(1000, 2**31 - 1)]) is None
    assert energy_wh([unit_sample(7, 0), unit_sample(1000, 2**31 - 1)]) == 7  # the last usable
    assert time.monotonic() - began < 5
    assert energy_wh([unit_sample(2, 3)]) == 2000
    assert register_wh(2**63) is None and register_wh(1234) == 1234


def test_text_no_column_takes_is_replaced_and_bounded() -> None:
    assert storable_text("a\ud800b\x00c") == "a\ufffdb\ufffdc"
    assert storable_text("\U0001f600 ok") == "\U0001f600 ok"  # a surrogate pair, joined
    assert storable_text("x" * 300, 255) == "x" * 255
    failed = CallFailed("Generic\ud800" + "E" * 99, "\x00" * 999)
    assert failed.code == "Generic\ufffd" + "E" * 42 and failed.description == "\ufffd" * 255


def test_every_string_of_a_frame_is_cleaned_keys_included() -> None:
    frame = json.loads('[2,"id","A",{"k\\u0000":["\\ud800",{"x":"\\udfff"}],"n":1}]')
    assert clean_strings(frame) == [2, "id", "A", {"k\ufffd": ["\ufffd", {"x": "\ufffd"}], "n": 1}]
    deep: Any = "\x00"
    for _ in range(5000):  # deeper than recursion would go
        deep = [deep]
    clean_strings(deep)
    for _ in range(5000):
        deep = deep[0]
    assert deep == "\ufffd"


def test_only_integer_fields_outside_meter_readings_are_held_to_32_bits() -> None:
    schema = get_validator(CALL, "TransactionEvent", "2.0.1").schema
    event = {"seqNo": 0, "evse": {"id": 2**31}, "customData": {"vendorId": "v", "ms": 2**40}}
    assert beyond_int32(event, schema) == "evse.id"
    event["evse"] = {"id": 1}
    assert beyond_int32(event, schema) is None  # customData has no schema for "ms"
    unit = {"unit": "Wh", "multiplier": 2**40}
    event["meterValue"] = [{"sampledValue": [{"value": 2**40, "unitOfMeasure": unit}]}]
    assert beyond_int32(event, schema) is None  # a meter reading: skipped, not refused
    start = {"connectorId": 1, "meterStart": 2**40, "reservationId": -(2**31) - 1}
    assert beyond_int32(start, get_validator(CALL, "StartTransaction", "1.6").schema) == (
        "reservationId"
    )


def negotiated(offered: list[str], registered: str | None = None) -> str | None:
    version = negotiate(offered, registered)
    return None if version is None else version.subprotocol


def test_negotiation_prefers_the_registered_version_then_the_newest() -> None:
    assert negotiated(["ocpp1.5", "ocpp1.6"]) == "ocpp1.6"
    assert negotiated(["ocpp1.6", "ocpp2.0.1"]) == "ocpp2.0.1"
    assert negotiated(["ocpp1.6", "ocpp2.0.1"], registered="ocpp1.6") == "ocpp1.6"
    assert negotiated(["ocpp2.0.1"], registered="ocpp1.6") == "ocpp2.0.1"
    assert negotiated(["ocpp1.5"]) is None
    assert negotiated([]) is None


def header(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def test_basic_auth_only_for_the_charger_itself() -> None:
    assert basic_auth_password(header("CP1:pw:with:colons"), "CP1") == "pw:with:colons"
    assert basic_auth_password(header("CP2:pw"), "CP1") is None
    assert basic_auth_password("Bearer abc", "CP1") is None
    assert basic_auth_password("Basic !!!", "CP1") is None
    assert basic_auth_password(None, "CP1") is None


class Socket:
    def __init__(self) -> None:
        self.closed: list[int] = []

    async def close(self, code: int, reason: str) -> None:
        self.closed.append(code)


def connection(epoch: int) -> Connection:
    # The registry never touches the session or version of a connection it only registers.
    return Connection(session=None, epoch=epoch, socket=Socket(), version=None)  # type: ignore[arg-type]


async def test_a_take_over_announced_before_registering_supersedes_the_connection() -> None:
    """Node A claims epoch 1, node B claims epoch 2 and announces it, and only then does A
    register its connection: A must not keep a socket the charger has left."""
    registry = ConnectionRegistry()
    await registry.evict("CP", 2)
    with pytest.raises(Superseded):
        registry.attach("CP", connection(1))
    assert registry.attach("CP", connection(3)) is None  # a newer connection here is fine


async def test_take_overs_of_chargers_connected_elsewhere_are_not_kept_for_ever() -> None:
    """Every charger that connects to another node is announced here: only the most recent
    announcements are remembered, which still covers a registration racing one."""
    registry = ConnectionRegistry()
    for n in range(TAKEN_OVER_KEPT + 1):
        await registry.evict(f"CP{n}", 2)
    assert registry.attach("CP0", connection(1)) is None  # forgotten: the oldest announcement
    with pytest.raises(Superseded):
        registry.attach(f"CP{TAKEN_OVER_KEPT}", connection(1))


async def test_a_take_over_closes_the_older_socket_only() -> None:
    registry = ConnectionRegistry()
    older = connection(1)
    registry.attach("CP", older)
    await registry.evict("CP", 1)  # this node's own announcement
    assert older.socket.closed == []  # type: ignore[attr-defined]
    await registry.evict("CP", 2)
    assert older.socket.closed == [REPLACED]  # type: ignore[attr-defined]


# The longest params each version takes, worded as its CALL, validate against the ocpp
# library's schemas; and the answers read back.
FULL_FIRMWARE = FirmwareParams(
    location="https://f.example/" + "a" * (LOCATION_201_MAX - len("https://f.example/")),
    retrieve_date=datetime(2030, 1, 1, tzinfo=UTC),
    retries=3,
    retry_interval=60,
    signing_certificate="c" * SIGNING_CERTIFICATE_MAX,
    signature="s" * SIGNATURE_MAX,
)
FULL_DIAGNOSTICS = DiagnosticsParams(
    location="ftp://logs.example/up/",
    start_time=datetime(2030, 1, 1, tzinfo=UTC),
    stop_time=datetime(2030, 1, 2, tzinfo=UTC),
    retries=0,
    retry_interval=0,
)


@pytest.mark.parametrize("action", [ChargerAction.UPDATE_FIRMWARE, ChargerAction.GET_DIAGNOSTICS])
@pytest.mark.parametrize(("orders", "version"), [(v16_orders, "1.6"), (v201_orders, "2.0.1")])
def test_file_transfer_calls_validate(action: ChargerAction, orders: Any, version: str) -> None:
    params = FULL_FIRMWARE if action is ChargerAction.UPDATE_FIRMWARE else FULL_DIAGNOSTICS
    if version == "1.6" and params is FULL_FIRMWARE:
        params = replace(FULL_FIRMWARE, signing_certificate=None, signature=None)
    order = Order(action, datetime.now(UTC), None, params=params, command_id=7)
    name, payload = orders.to_call(order)
    get_validator(CALL, name, version).validate(payload)
    # Read back from the outbox's JSON as it was stored.
    assert from_json(action, to_json(params)) == params


def test_file_transfer_answers() -> None:
    assert v16_orders.to_reply("UpdateFirmware", {}).accepted
    # A 1.6 charger with no diagnostics to send names no file: taken all the same.
    assert v16_orders.to_reply("GetDiagnostics", {}).detail == "GetDiagnostics: no file"
    for status, accepted in [
        ("Accepted", True),
        ("AcceptedCanceled", True),
        ("Rejected", False),
        ("InvalidCertificate", False),
        ("RevokedCertificate", False),
    ]:
        assert v201_orders.to_reply("UpdateFirmware", {"status": status}).accepted is accepted
    assert v201_orders.to_reply("GetLog", {"status": "AcceptedCanceled"}).accepted

"""What a charger can make chargegate keep is bounded: ports are those registered for it plus
connectors 1..CHARGEGATE_MAX_CONNECTORS (any other number is a PropertyConstraintViolation and
creates nothing), and its message budget is kept by charge point id, so reconnecting does not
refill it. (One live charger-begun transaction per connector: tests/test_start_matching.py.)
Real server, real sockets, chargers driven frame by frame or simulated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.v16.enums import Action as Action16
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus
from ocpp.v16.enums import Measurand as Measurand16
from ocpp.v16.enums import UnitOfMeasure as UnitOfMeasure16
from ocpp.v201.enums import Action as Action201
from ocpp.v201.enums import ConnectorStatusEnumType
from ocpp.v201.enums import MeasurandEnumType as Measurand201
from ocpp.v201.enums import StandardizedUnitsOfMeasureType as UnitOfMeasure201
from websockets.asyncio.client import connect

from support import (
    Charger,
    Operator,
    RawCharger,
    Server,
    Simulators,
    accepted_cards,
    online,
    open_session,
    raw_charger,
    start_report,
    transactions,
)

CALLRESULT, CALLERROR = 3, 4
SUBPROTOCOLS = pytest.mark.parametrize("subprotocol", ["ocpp1.6", "ocpp2.0.1"])
# CHARGEGATE_MAX_CONNECTORS as the shared server has it (the default).
BOUND = 8
AT = "2026-01-01T10:00:00Z"
Message = tuple[str, dict[str, Any]]


def status(subprotocol: str, connector: int) -> Message:
    if subprotocol == "ocpp1.6":
        return Action16.status_notification, {
            "connectorId": connector,
            "errorCode": ChargePointErrorCode.no_error,
            "status": ChargePointStatus.available,
            "timestamp": AT,
        }
    return Action201.status_notification, {
        "timestamp": AT,
        "connectorStatus": ConnectorStatusEnumType.available,
        "evseId": connector,
        "connectorId": 1,
    }


def meter_values(subprotocol: str, connector: int) -> Message:
    if subprotocol == "ocpp1.6":
        sampled: dict[str, Any] = {
            "value": "1500",
            "measurand": Measurand16.energy_active_import_register,
            "unit": UnitOfMeasure16.wh,
        }
        reading = {"timestamp": AT, "sampledValue": [sampled]}
        return Action16.meter_values, {"connectorId": connector, "meterValue": [reading]}
    sampled = {
        "value": 1500,
        "measurand": Measurand201.energy_active_import_register,
        "unitOfMeasure": {"unit": UnitOfMeasure201.wh},
    }
    reading = {"timestamp": AT, "sampledValue": [sampled]}
    return Action201.meter_values, {"evseId": connector, "meterValue": [reading]}


def naming(subprotocol: str, connector: int) -> list[Message]:
    """Every message that names a connector (EVSE): status, a start, meter values."""
    return [
        status(subprotocol, connector),
        start_report(subprotocol, connector, f"CARD-{connector}", AT),
        meter_values(subprotocol, connector),
    ]


async def connector_ids(client: httpx.AsyncClient, charger: Charger) -> list[int]:
    """The charger's ports as the API lists them."""
    response = await client.get("/ports")
    assert response.status_code == 200, response.text
    return [
        port["connector_id"]
        for port in response.json()
        if port["charge_point_id"] == charger.charge_point_id
    ]


async def answers(raw: RawCharger, messages: list[Message]) -> list[tuple[Message, list[Any]]]:
    """Each message with the server's answer frame to it, sent one after the other."""
    return [(message, await raw.exchange(*message)) for message in messages]


def refused(answer: list[Any]) -> bool:
    return bool(answer[0] == CALLERROR and answer[2] == PropertyConstraintViolationError.code)


# -- ports: registered, or within the bound -------------------------------------------------


@SUBPROTOCOLS
async def test_connector_beyond_the_bound_is_refused_and_creates_nothing(
    op: Operator, subprotocol: str
) -> None:
    async with op.client() as client, raw_charger(op, subprotocol) as (raw, charger):
        beyond = [BOUND + 1, 2**31 - 1, -1]
        sent = [message for connector in beyond for message in naming(subprotocol, connector)]
        wrong = [found for found in await answers(raw, sent) if not refused(found[1])]
        assert not wrong, wrong
        assert await connector_ids(client, charger) == [1]

        # The bound itself becomes a port on first use, and the charger is still served.
        at_bound = await answers(raw, naming(subprotocol, BOUND))
        assert all(answer[0] == CALLRESULT for _, answer in at_bound), at_bound
        assert await connector_ids(client, charger) == [1, BOUND]


@SUBPROTOCOLS
async def test_registered_port_above_the_bound_is_accepted(op: Operator, subprotocol: str) -> None:
    registered = BOUND + 2
    await accepted_cards(op, f"CARD-{registered}")
    async with (
        op.client() as client,
        raw_charger(op, subprotocol, connectors=registered) as (raw, charger),
    ):
        found = await answers(raw, naming(subprotocol, registered))
        assert all(answer[0] == CALLRESULT for _, answer in found), found
        assert await connector_ids(client, charger) == list(range(1, registered + 1))
        # The charger's own start was recorded on that port, so that its stop can close it.
        listed = await transactions(client, charger.port_uuids[-1])
        assert [t["state"] for t in listed] == ["Open"], listed


@SUBPROTOCOLS
async def test_station_status_and_meter_values_are_taken_without_a_port(
    op: Operator, subprotocol: str
) -> None:
    async with op.client() as client, raw_charger(op, subprotocol) as (raw, charger):
        found = await answers(raw, [status(subprotocol, 0), meter_values(subprotocol, 0)])
        assert all(answer[0] == CALLRESULT for _, answer in found), found
        # Nothing is charged on the station as a whole: a start there names no port.
        [(_, answer)] = await answers(raw, [start_report(subprotocol, 0, "CARD-0", AT)])
        assert refused(answer), answer
        assert await connector_ids(client, charger) == [1]


# -- the message budget is the charger's, not its socket's ----------------------------------

# A budget a flood spends at once and that refills slowly: a flooder's immediate reconnect is
# over it for many seconds, however loaded the machine is.
BURST, RATE = 20, 0.05


@pytest.fixture(scope="module")
def stingy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"CHARGEGATE_CHARGER_BURST": str(BURST), "CHARGEGATE_CHARGER_RATE_PER_S": str(RATE)}
    with Server(workdir=tmp_path_factory.mktemp("stingy"), extra_env=env).running() as instance:
        yield instance


async def flood_until_cut(raw: RawCharger) -> int | None:
    """Send Heartbeats as fast as the socket takes them until the server closes it; the close
    code it sent."""

    async def send() -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            for n in range(10 * BURST):
                await raw.ws.send(json.dumps([2, f"f{n}", "Heartbeat", {}]))

    async def closed() -> int | None:
        try:
            while True:
                await raw.ws.recv()
        except websockets.ConnectionClosed as exc:
            return None if exc.rcvd is None else exc.rcvd.code

    _, code = await asyncio.wait_for(asyncio.gather(send(), closed()), 30)
    return code


async def test_flooder_reconnecting_at_once_is_refused_while_a_neighbour_works(
    stingy_server: Server, simulators: Simulators
) -> None:
    subprotocol = f"ocpp{simulators.ocpp_version}"
    op = await stingy_server.operator()
    neighbour = await op.add_charger()
    sim = await online(simulators, stingy_server, neighbour)
    async with raw_charger(op, subprotocol) as (raw, flooder):
        assert await flood_until_cut(raw) == 1008  # policy violation

    url = f"{stingy_server.ws_url}/{flooder.charge_point_id}"
    with pytest.raises(websockets.InvalidStatus) as refusal:
        async with connect(url, subprotocols=[websockets.Subprotocol(subprotocol)]):
            pass
    assert refusal.value.response.status_code == 429
    assert 1 <= int(refusal.value.response.headers["Retry-After"]) <= math.ceil(1 / RATE)

    # Others, from the same address, are served as before: the neighbour that was online
    # all along, and a charger connecting now.
    async with op.client() as client:
        await open_session(client, neighbour.port)
    assert sim.start_requests == 1
    async with raw_charger(op, subprotocol) as (newcomer, _):
        assert "currentTime" in await newcomer.call("Heartbeat", {})

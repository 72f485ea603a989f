"""A charger's report of a started transaction finds the one session it belongs to, whichever of
the start's answer and the report is written first, and a connector holds one live
charger-begun transaction."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection

from chargegate.store.database import create_engine, session_factory
from chargegate.store.models import Transaction
from support import (
    Charger,
    Operator,
    RawCharger,
    Server,
    Simulators,
    cable_plugged,
    id_tag_status,
    online,
    open_session,
    poll_queue,
    raw_charger,
    start_report,
    start_session,
    transactions,
)

NOW = "2026-01-01T10:00:00Z"


class NamingStation(RawCharger):
    """A 2.0.1 station that answers RequestStartTransaction with the transactionId it uses,
    and holds that answer back until the test releases it."""

    def __init__(self, *args: Any, transaction_id: str) -> None:
        super().__init__(*args)
        self.transaction_id = transaction_id
        self.held: list[Any] = []

    async def answer(self, frame: list[Any]) -> None:
        if frame[2] == "RequestStartTransaction":
            self.requests.append(frame)
            self.held.append(frame)
            return
        await super().answer(frame)

    async def release(self) -> None:
        for frame in self.held:
            answer = {"status": "Accepted", "transactionId": self.transaction_id}
            await self.ws.send(json.dumps([3, frame[1], answer]))
        self.held.clear()

    async def start_request(self) -> dict[str, Any]:
        async with asyncio.timeout(10):
            while not self.held:
                frame = json.loads(await self.ws.recv())
                await self.answer(frame)
        payload: dict[str, Any] = self.held[0][3]
        return payload


@pytest.fixture
async def station(op: Operator) -> AsyncIterator[tuple[NamingStation, Charger]]:
    def make(ws: ClientConnection) -> NamingStation:
        return NamingStation(ws, transaction_id="T-NAMED")

    async with raw_charger(op, "ocpp2.0.1", make) as (raw, charger):
        assert isinstance(raw, NamingStation)
        yield raw, charger


async def charger_ids(server: Server, port_uuid: str) -> list[str | None]:
    """The charger transaction ids stored for a port's transactions (not shown by the API)."""
    engine = create_engine(server.database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.scalars(
                select(Transaction.charger_transaction_id).where(Transaction.port_uuid == port_uuid)
            )
            return list(rows)
    finally:
        await engine.dispose()


async def one_session(
    op: Operator, client: httpx.AsyncClient, port: str, created: dict[str, Any]
) -> None:
    """The port has one session, the requested one, and one row holds the station's id."""
    [only] = await transactions(client, port)
    assert only["transaction_uuid"] == created["transaction_uuid"]
    assert await charger_ids(op.server, port) == ["T-NAMED"]


def started(order: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "eventType": "Started",
        "timestamp": NOW,
        "triggerReason": "RemoteStart",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "T-NAMED", "remoteStartId": order["remoteStartId"]},
        "idToken": order["idToken"],
        "evse": {"id": 1, "connectorId": 1},
        **extra,
    }


async def test_answer_naming_the_transaction_written_before_its_event(
    op: Operator, station: tuple[NamingStation, Charger]
) -> None:
    raw, charger = station
    async with op.client() as client:
        created = await start_session(client, charger.port)
        order = await raw.start_request()
        await raw.release()

        async def answer_written() -> bool:
            return await charger_ids(op.server, charger.port) == ["T-NAMED"]

        deadline = asyncio.get_running_loop().time() + 15
        while not await answer_written():
            assert asyncio.get_running_loop().time() < deadline, "start answer not recorded"
            await asyncio.sleep(0.1)
        answer = await raw.call("TransactionEvent", started(order))
        assert answer == {"idTokenInfo": {"status": "Accepted"}}
        opened = await poll_queue(client, created["queue_uuid"])
        assert opened["state"] == "Open", opened
        await one_session(op, client, charger.port, created)


async def test_event_written_before_the_answer_naming_the_transaction(
    op: Operator, station: tuple[NamingStation, Charger]
) -> None:
    raw, charger = station
    async with op.client() as client:
        created = await start_session(client, charger.port)
        order = await raw.start_request()
        answer = await raw.call("TransactionEvent", started(order))
        assert answer == {"idTokenInfo": {"status": "Accepted"}}
        await raw.release()
        opened = await poll_queue(client, created["queue_uuid"])
        assert opened["state"] == "Open", opened
        # A later report of the same transaction is the same session.
        updated = {**started(order), "eventType": "Updated", "seqNo": 1}
        assert await raw.call("TransactionEvent", updated) == {
            "idTokenInfo": {"status": "Accepted"}
        }
        await one_session(op, client, charger.port, created)


async def test_cable_first_answer_written_before_the_authorising_event(
    op: Operator, station: tuple[NamingStation, Charger]
) -> None:
    """The station began T-NAMED when the cable went in; its start answer names it. Until now
    that left two rows with one charger transaction id."""
    raw, charger = station
    plugged = cable_plugged("T-NAMED", NOW)
    assert await raw.call("TransactionEvent", plugged) == {}
    async with op.client() as client:
        created = await start_session(client, charger.port)
        order = await raw.start_request()
        await raw.release()
        # The answer alone says the session runs: it is the station's transaction.
        opened = await poll_queue(client, created["queue_uuid"])
        assert opened["state"] == "Open" and opened["started"] == "2026-01-01T10:00:00", opened
        authorised = {
            **plugged,
            "eventType": "Updated",
            "triggerReason": "RemoteStart",
            "seqNo": 1,
            "transactionInfo": {
                "transactionId": "T-NAMED",
                "remoteStartId": order["remoteStartId"],
            },
            "idToken": order["idToken"],
        }
        assert await raw.call("TransactionEvent", authorised) == {
            "idTokenInfo": {"status": "Accepted"}
        }
        await one_session(op, client, charger.port, created)


async def test_simulated_station_naming_its_transaction(
    op: Operator, simulators: Simulators
) -> None:
    charger = await op.add_charger()
    sim = await online(simulators, op.server, charger, start_answer_names_transaction=True)
    async with op.client() as client:
        created = await open_session(client, charger.port)
        path = f"/transactions/{created['transaction_uuid']}"
        stop = (await client.patch(path, json={"state": "closed"})).json()
        closed = await poll_queue(client, stop["id"], timeout=30)
        assert closed["state"] == "Closed", closed
        assert len(await transactions(client, charger.port)) == 1
    assert sim.stop_requests == 1


@pytest.mark.parametrize("subprotocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_one_live_charger_transaction_per_connector(op: Operator, subprotocol: str) -> None:
    """A charger that starts again and again with new cards (its stops lost) leaves one open
    transaction on the connector, not one per start."""
    async with op.client() as client:
        for n in range(5):
            card = {"id_tag": f"CARD-{n}", "status": "Accepted"}
            assert (await client.post("/tokens", json=card)).status_code == 201
    async with raw_charger(op, subprotocol) as (raw, charger):
        for n in range(5):
            answer = await raw.call(
                *start_report(subprotocol, 1, f"CARD-{n}", f"2026-01-01T10:0{n}:00Z", 100 * n)
            )
            assert id_tag_status(answer) == "Accepted"
    async with op.client() as client:
        found = await transactions(client, charger.port)
    assert sorted(t["state"] for t in found) == ["Closed"] * 4 + ["Open"], found
    newest = found[0]
    assert newest["state"] == "Open" and newest["started"] == "2026-01-01T10:04:00"
    # Each older one ended when the next began: its stop was lost, the connector moved on.
    assert [t["ended"] for t in found[1:]] == [f"2026-01-01T10:0{n}:00" for n in (4, 3, 2, 1)]

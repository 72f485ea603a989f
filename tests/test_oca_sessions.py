"""Sessions begun at the charger with a card are API sessions, as the OCA OCPP 1.6 test cases on
the Central System side play them, and their 2.0.1 equivalents.

Each case is played as the charger does, frame by frame (a raw socket), and asserts what the
CSMS must answer, then what the API shows:
- TC_003 regular charging session, plug in first: Preparing, Authorize, StartTransaction,
  Charging, MeterValues, StopTransaction (Local), Finishing, Available.
- TC_004_1 identification first: Authorize, then Preparing and StartTransaction.
- TC_004_2 identification first with a cached id: StartTransaction without an Authorize.
- TC_005_1 EV side disconnected: the StopTransaction's reason is EVDisconnected.
- TC_012 remote start: RemoteStartTransaction (here with the driver's own card), Authorize
  (AuthorizeRemoteTxRequests), StartTransaction.
- TC_028 remote stop: RemoteStopTransaction, StopTransaction (Remote).
2.0.1: TransactionEvent Started (or Updated, cable first) with the idToken answered
idTokenInfo Accepted; RequestStartTransaction / RequestStopTransaction.
A card the registry refuses is no session. Then the same with the strict-schema charger we did
not write (tests/js) and with our simulator."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from chargegate import provisioning
from support import (
    TX_KEYS,
    Charger,
    Operator,
    RawCharger,
    Simulators,
    assert_error,
    iso,
    online,
    poll_queue,
    poll_transaction,
    raw_charger,
    start_session,
    transactions,
)
from test_independent_charger import V16, V201, Dialect, NodeCharger, running
from test_webhooks import Receiver, receiver, session_events, until

__all__ = ["receiver"]  # the fixture, for this module's tests

CARDS = [
    {"id_tag": "CARD-OK", "status": "Accepted"},
    {"id_tag": "CARD-TWO", "status": "Accepted"},
    {"id_tag": "CARD-LOST", "status": "Blocked"},
]
SUBPROTOCOLS = ["ocpp1.6", "ocpp2.0.1"]
ENERGY = "Energy.Active.Import.Register"


def now() -> str:
    return iso(0, "%Y-%m-%dT%H:%M:%SZ")


async def register_cards(op: Operator) -> None:
    async with op.client() as client:
        for card in CARDS:
            assert (await client.post("/tokens", json=card)).status_code == 201


@dataclass
class Station:
    """A charger of either version, played frame by frame; 1.6 words are the defaults."""

    raw: RawCharger
    subprotocol: str
    charger: Charger
    # 2.0.1: the station's own transaction id and next seqNo, per EVSE.
    running: dict[int, str] = field(default_factory=dict)
    seq: dict[int, int] = field(default_factory=dict)

    @property
    def v16(self) -> bool:
        return self.subprotocol == "ocpp1.6"

    async def status(self, connector: int, status: str) -> None:
        """1.6 statuses; a 2.0.1 connector is only Available or Occupied."""
        if self.v16:
            payload = {
                "connectorId": connector,
                "errorCode": "NoError",
                "status": status,
                "timestamp": now(),
            }
        else:
            payload = {
                "timestamp": now(),
                "connectorStatus": "Available" if status == "Available" else "Occupied",
                "evseId": connector,
                "connectorId": 1,
            }
        assert await self.raw.call("StatusNotification", payload) == {}

    async def authorize(self, card: str) -> str:
        if self.v16:
            answer = await self.raw.call("Authorize", {"idTag": card})
            return str(answer["idTagInfo"]["status"])
        answer = await self.raw.call("Authorize", {"idToken": self._token(card)})
        return str(answer["idTokenInfo"]["status"])

    def _token(self, card: str, remote: bool = False) -> dict[str, str]:
        return {"idToken": card, "type": "Central" if remote else "ISO14443"}

    def _event(self, connector: int, kind: str, trigger: str, meter_wh: int) -> dict[str, Any]:
        seq = self.seq.get(connector, 0)
        self.seq[connector] = seq + 1
        sampled = {"value": meter_wh, "measurand": ENERGY, "unitOfMeasure": {"unit": "Wh"}}
        return {
            "eventType": kind,
            "timestamp": now(),
            "triggerReason": trigger,
            "seqNo": seq,
            "transactionInfo": {"transactionId": self.running[connector]},
            "evse": {"id": connector, "connectorId": 1},
            "meterValue": [{"timestamp": now(), "sampledValue": [sampled]}],
        }

    async def plug_in(self, connector: int) -> None:
        """The cable goes in (1.6 Preparing; a 2.0.1 station begins its transaction now)."""
        await self.status(connector, "Preparing")
        if not self.v16:
            self.running[connector] = f"T-{uuid.uuid4().hex[:10]}"
            event = self._event(connector, "Started", "CablePluggedIn", 1000)
            assert await self.raw.call("TransactionEvent", event) == {}

    async def start(
        self, connector: int, card: str, meter_wh: int = 1000, remote_start_id: int | None = None
    ) -> tuple[int | str, str]:
        """The card starts (or, cable first in 2.0.1, authorises) a transaction: its
        reference (1.6 transactionId, 2.0.1 the station's id) and the card's status."""
        if self.v16:
            answer = await self.raw.call(
                "StartTransaction",
                {
                    "connectorId": connector,
                    "idTag": card,
                    "meterStart": meter_wh,
                    "timestamp": now(),
                },
            )
            return int(answer["transactionId"]), str(answer["idTagInfo"]["status"])
        remote = remote_start_id is not None
        trigger = "RemoteStart" if remote else "Authorized"
        if connector in self.running:
            event = self._event(connector, "Updated", trigger, meter_wh)
        else:
            self.running[connector] = f"T-{uuid.uuid4().hex[:10]}"
            event = self._event(connector, "Started", trigger, meter_wh)
        event["idToken"] = self._token(card, remote)
        if remote:
            event["transactionInfo"]["remoteStartId"] = remote_start_id
        answer = await self.raw.call("TransactionEvent", event)
        return self.running[connector], str(answer["idTokenInfo"]["status"])

    async def charging(self, connector: int, reference: int | str, meter_wh: int) -> None:
        await self.status(connector, "Charging")
        if self.v16:
            sampled = {"value": str(meter_wh), "measurand": ENERGY, "unit": "Wh"}
            payload = {
                "connectorId": connector,
                "transactionId": reference,
                "meterValue": [{"timestamp": now(), "sampledValue": [sampled]}],
            }
            assert await self.raw.call("MeterValues", payload) == {}
        else:
            event = self._event(connector, "Updated", "MeterValuePeriodic", meter_wh)
            assert await self.raw.call("TransactionEvent", event) == {}

    async def stop(
        self, connector: int, reference: int | str, reason: str, meter_wh: int
    ) -> dict[str, Any]:
        """The transaction ends; then the connector is Finishing (1.6) and Available."""
        if self.v16:
            await self.status(connector, "Finishing")
            payload = {
                "transactionId": reference,
                "meterStop": meter_wh,
                "timestamp": now(),
                "reason": reason,
            }
            answer = await self.raw.call("StopTransaction", payload)
        else:
            trigger = {"Remote": "RemoteStop", "EVDisconnected": "EVCommunicationLost"}
            event = self._event(connector, "Ended", trigger.get(reason, "StopAuthorized"), meter_wh)
            event["transactionInfo"]["stoppedReason"] = reason
            answer = await self.raw.call("TransactionEvent", event)
            del self.running[connector]
        await self.status(connector, "Available")
        return answer


@pytest.fixture
async def hooked(op: Operator, receiver: Receiver) -> Operator:
    """`op` with its webhook at `receiver` and the cards of CARDS."""
    await provisioning.add_webhook(op.server.settings, op.name, receiver.url)
    await register_cards(op)
    return op


@asynccontextmanager
async def station(op: Operator, subprotocol: str, connectors: int = 1) -> AsyncIterator[Station]:
    async with raw_charger(op, subprotocol, connectors=connectors) as (raw, charger):
        yield Station(raw, subprotocol, charger)


async def by_card(client: httpx.AsyncClient, card: str, **filters: Any) -> list[dict[str, Any]]:
    """GET /transactions?id_tag=<card>: every session run on the card, newest first."""
    response = await client.get("/transactions", params={"id_tag": card, "limit": 0, **filters})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def the_session(client: httpx.AsyncClient, card: str) -> dict[str, Any]:
    """The one session run on `card`, as GET /transactions/<uuid> shows it too."""
    [session] = await by_card(client, card)
    assert set(session) == TX_KEYS, session
    response = await client.get(f"/transactions/{session['transaction_uuid']}")
    assert response.status_code == 200, response.text
    assert response.json() == session
    return session


def open_card_session(found: dict[str, Any], card: str, port: str) -> None:
    assert found["state"] == "Open", found
    assert found["origin"] == "charger" and found["id_tag"] == card, found
    assert found["port_uuid"] == port
    assert found["expires"] is None and found["stop_reason"] is None and found["ended"] is None


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
async def test_tc_003_plug_in_first(hooked: Operator, receiver: Receiver, subprotocol: str) -> None:
    """TC_003: the EV is plugged in, then the card presented; the session runs and the driver
    ends it with the card (Local). Webhooks as for an API session."""
    async with station(hooked, subprotocol) as cp, hooked.client() as client:
        await cp.plug_in(1)
        assert await cp.authorize("CARD-OK") == "Accepted"
        reference, status = await cp.start(1, "CARD-OK", 1000)
        assert status == "Accepted"
        await cp.charging(1, reference, 1500)
        # Tokens are compared without regard to letter case.
        session = await the_session(client, "card-ok")
        open_card_session(session, "CARD-OK", cp.charger.port)
        assert session["energy_wh"] == 500
        assert await transactions(client, cp.charger.port) == [session]

        assert await cp.authorize("CARD-OK") == "Accepted"
        await cp.stop(1, reference, "Local", 1800)
        closed = await the_session(client, "CARD-OK")
        assert closed["state"] == "Closed" and closed["stop_reason"] == "Local", closed
        assert closed["energy_wh"] == 800 and closed["ended"] is not None
        key = closed["transaction_uuid"]
        await until(lambda: len(session_events(receiver.events(), key)) == 2)
        assert session_events(receiver.events(), key) == [
            "transaction.opened",
            "transaction.closed",
        ]
        [event] = [e for e in receiver.events() if e["type"] == "transaction.closed"]
        assert event["data"] == closed


@pytest.mark.parametrize("cached", [False, True], ids=["TC_004_1", "TC_004_2"])
@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
async def test_tc_004_identification_first_and_tc_005_1_ev_disconnected(
    hooked: Operator, subprotocol: str, cached: bool
) -> None:
    """TC_004_1: the card first (Authorize), then the cable; TC_004_2: a card the charger
    authorised from its cache, with no Authorize. TC_005_1: the EV side is disconnected and
    the charger ends the transaction (EVDisconnected)."""
    async with station(hooked, subprotocol) as cp, hooked.client() as client:
        if not cached:
            assert await cp.authorize("CARD-TWO") == "Accepted"
        await cp.status(1, "Preparing")
        reference, status = await cp.start(1, "CARD-TWO", 2000)
        assert status == "Accepted"
        await cp.charging(1, reference, 2600)
        open_card_session(await the_session(client, "CARD-TWO"), "CARD-TWO", cp.charger.port)

        answer = await cp.stop(1, reference, "EVDisconnected", 3000)
        # 1.6 StopTransaction.conf without idTag has no idTagInfo; 2.0.1 Ended, no idToken: {}.
        assert answer == {}
        closed = await the_session(client, "CARD-TWO")
        assert closed["state"] == "Closed" and closed["stop_reason"] == "EVDisconnected"
        assert closed["energy_wh"] == 1000


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
async def test_a_refused_card_is_no_session(
    hooked: Operator, receiver: Receiver, subprotocol: str
) -> None:
    """A card the registry refuses (Blocked) or does not know (Invalid) starts no session: the
    charger's record stays out of the API and its webhooks, its stop is still taken, and the
    port is free for an API start."""
    async with station(hooked, subprotocol, connectors=2) as cp, hooked.client() as client:
        refused = {}
        for connector, card in ((1, "CARD-LOST"), (2, "CARD-NONE")):
            await cp.plug_in(connector)
            refused[connector], status = await cp.start(connector, card)
            assert status == ("Blocked" if card == "CARD-LOST" else "Invalid")
            assert await by_card(client, card) == []
        for port in cp.charger.port_uuids:
            listed = await client.get("/transactions", params={"port_uuid": port, "limit": 0})
            assert "No transactions exist" in assert_error(listed, 404)
        # The charger ends what it was refused (DeAuthorized); the stop is acknowledged.
        for connector, reference in refused.items():
            await cp.stop(connector, reference, "DeAuthorized", 1000)
        created = await start_session(client, cp.charger.port)
        assert await cp.raw.next_request(
            "RemoteStartTransaction" if cp.v16 else "RequestStartTransaction"
        )
        path = f"/transactions/{created['transaction_uuid']}"
        assert (await client.patch(path, json={"state": "closed"})).status_code == 202
        # The only transaction events are the API start's (cancelled before it began): the
        # refused ones, recorded and closed before it, sent none.
        key = created["transaction_uuid"]
        await until(lambda: "transaction.failed" in session_events(receiver.events(), key))
        about = {
            e["data"]["transaction_uuid"]
            for e in receiver.events()
            if e["type"].startswith("transaction.")
        }
        assert about == {key}


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
async def test_a_card_session_is_stopped_at_the_expiry_an_app_sets(
    hooked: Operator, subprotocol: str
) -> None:
    """PATCH expires on a session begun at the charger: it is stopped then (1.6
    RemoteStopTransaction, 2.0.1 RequestStopTransaction), like an API session."""
    async with station(hooked, subprotocol) as cp, hooked.client() as client:
        reference, status = await cp.start(1, "CARD-OK")
        assert status == "Accepted"
        session = await the_session(client, "CARD-OK")
        path = f"/transactions/{session['transaction_uuid']}"
        expires = iso(2)
        assert (await client.patch(path, json={"expires": expires})).status_code == 204
        assert (await client.get(path)).json()["expires"] == expires[:19]
        stop = await cp.raw.next_request(
            "RemoteStopTransaction" if cp.v16 else "RequestStopTransaction"
        )
        assert stop == {"transactionId": reference}
        await cp.stop(1, reference, "Remote", 1400)
        closed = await poll_transaction(
            client, session["transaction_uuid"], lambda body: body["state"] == "Closed"
        )
        assert closed["stop_reason"] == "Remote" and closed["energy_wh"] == 400


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
async def test_tc_012_remote_start_with_the_drivers_card_and_tc_028_remote_stop(
    hooked: Operator, receiver: Receiver, subprotocol: str
) -> None:
    """TC_012: the app starts with the driver's card (id_tag): the charger is asked with it,
    authorises it (AuthorizeRemoteTxRequests) and starts; TC_028: the app stops it."""
    async with station(hooked, subprotocol) as cp, hooked.client() as client:
        created = await start_session(client, cp.charger.port, id_tag="CARD-OK")
        if cp.v16:
            request = await cp.raw.next_request("RemoteStartTransaction")
            assert request == {"connectorId": 1, "idTag": "CARD-OK"}
            remote_start_id = None
        else:
            request = await cp.raw.next_request("RequestStartTransaction")
            assert request["idToken"]["idToken"] == "CARD-OK" and request["evseId"] == 1
            remote_start_id = request["remoteStartId"]
        await cp.status(1, "Preparing")
        assert await cp.authorize("CARD-OK") == "Accepted"
        reference, status = await cp.start(1, "CARD-OK", 500, remote_start_id)
        assert status == "Accepted"
        opened = await poll_queue(client, created["queue_uuid"])
        assert opened["state"] == "Open", opened
        assert opened["origin"] == "api" and opened["id_tag"] == "CARD-OK", opened
        [listed] = await by_card(client, "CARD-OK")
        assert listed["transaction_uuid"] == created["transaction_uuid"]

        path = f"/transactions/{created['transaction_uuid']}"
        stop = await client.patch(path, json={"state": "closed"})
        assert stop.status_code == 202, stop.text
        asked = await cp.raw.next_request(
            "RemoteStopTransaction" if cp.v16 else "RequestStopTransaction"
        )
        assert asked == {"transactionId": reference}
        await cp.stop(1, reference, "Remote", 900)
        closed = await poll_queue(client, stop.json()["id"])
        assert closed["state"] == "Closed" and closed["stop_reason"] == "Remote", closed
        assert closed["energy_wh"] == 400
        key = created["transaction_uuid"]
        await until(lambda: "transaction.closed" in session_events(receiver.events(), key))


async def test_one_live_start_per_card_and_charger(op: Operator) -> None:
    """Two live API starts on one charger with one driver's card could be taken for each other
    (a 1.6 StartTransaction names only the card and the connector): the second is a 409, in any
    letter case; and a start at the charger with that card on another connector is not ours."""
    await register_cards(op)
    async with station(op, "ocpp1.6", connectors=3) as cp, op.client() as client:
        first, second, third = cp.charger.port_uuids
        created = await start_session(client, first, id_tag="CARD-OK")
        again = await client.post(
            "/transactions", json={"port_uuid": second, "expires": iso(600), "id_tag": "card-ok"}
        )
        assert created["transaction_uuid"] in assert_error(again, 409)
        await cp.raw.next_request("RemoteStartTransaction")
        # The same card, begun at the charger on connector 2: a session of its own.
        local, status = await cp.start(2, "CARD-OK", 100)
        assert status == "Accepted"
        ours, status = await cp.start(1, "CARD-OK", 200)
        assert status == "Accepted" and ours != local
        opened = await poll_queue(client, created["queue_uuid"])
        assert opened["state"] == "Open" and opened["port_uuid"] == first
        found = {t["port_uuid"]: t["origin"] for t in await by_card(client, "CARD-OK")}
        assert found == {first: "api", second: "charger"}
        assert [t["origin"] for t in await by_card(client, "CARD-OK", port_uuid=second)] == [
            "charger"
        ]
        # Another card on the same charger is no conflict.
        await start_session(client, third, id_tag="CARD-TWO")


async def test_id_tag_arguments(op: Operator) -> None:
    """POST id_tag is a token of at most 20 characters (an OCPP 1.6 idTag); GET takes id_tag
    instead of (or with) port_uuid, and still says what is missing without either."""
    charger = await op.add_charger()
    async with op.client() as client:
        for bad in ("", "A" * 21, "a/b", "caf\u00e9", 42, True):
            body = {"port_uuid": charger.port, "expires": iso(600), "id_tag": bad}
            assert "id_tag" in assert_error(await client.post("/transactions", json=body), 400)
        longest = await start_session(client, charger.port, id_tag="A" * 20)
        got = await client.get(f"/transactions/{longest['transaction_uuid']}")
        assert got.json()["id_tag"] == "A" * 20 and got.json()["origin"] == "api"
        # Without id_tag, one is generated as before.
        other = await op.add_charger()
        generated = await start_session(client, other.port)
        body = (await client.get(f"/transactions/{generated['transaction_uuid']}")).json()
        assert body["id_tag"].startswith("CG") and body["stop_reason"] is None

        assert (
            assert_error(await client.get("/transactions", params={"limit": 0}), 400)
            == "Missing field(s): port_uuid"
        )
        assert (
            assert_error(await client.get("/transactions", params={"id_tag": "A" * 20}), 400)
            == "Missing field(s): limit"
        )
        bad_tag = await client.get("/transactions", params={"id_tag": "a/b", "limit": 0})
        assert "id_tag" in assert_error(bad_tag, 400)
        assert [t["transaction_uuid"] for t in await by_card(client, "a" * 20)] == [
            longest["transaction_uuid"]
        ]
        assert await by_card(client, "NOBODY") == []
        assert await by_card(client, "A" * 20, port_uuid=other.port) == []


# -- The strict-schema charger we did not write, and our simulator --------------------------


@pytest.mark.parametrize("dialect", [V16, V201], ids=["1.6", "2.0.1"])
async def test_a_card_session_with_an_independent_strict_charger(
    op: Operator, dialect: Dialect
) -> None:
    """The strict charger presents the card and starts (1.6 Authorize, StartTransaction;
    2.0.1 Authorize, TransactionEvent Started with the idToken); the session is the API's to
    see and to stop (RemoteStopTransaction / RequestStopTransaction)."""
    await register_cards(op)
    charger = await op.add_charger(connectors=1)
    node = NodeCharger(op.server, charger, dialect, "--start-card=CARD-OK")
    async with running(node), op.client() as client:
        await node.wait_for(lambda event: event["event"] == "cardsPresented")
        [started] = node.of("transactionStarted")
        assert started["idTag"] == "CARD-OK" and started["status"] == "Accepted"
        session = await the_session(client, "CARD-OK")
        open_card_session(session, "CARD-OK", charger.port)
        stop = await client.patch(
            f"/transactions/{session['transaction_uuid']}", json={"state": "closed"}
        )
        assert stop.status_code == 202, stop.text
        closed = await poll_queue(client, stop.json()["id"])
        assert closed["state"] == "Closed" and closed["stop_reason"] == "Remote", closed
        assert closed["energy_wh"] == 500 + 734
        assert node.failures() == [], node.transcript()


@pytest.mark.parametrize("dialect", [V16, V201], ids=["1.6", "2.0.1"])
async def test_a_remote_start_with_the_drivers_card_on_a_strict_charger(
    op: Operator, dialect: Dialect
) -> None:
    charger = await op.add_charger(connectors=1)
    node = NodeCharger(op.server, charger, dialect)
    async with running(node), op.client() as client:
        await node.wait_for(lambda event: event["event"] == "ready")
        created = await start_session(client, charger.port, id_tag="CARD-OK")
        opened = await poll_queue(client, created["queue_uuid"])
        assert opened["state"] == "Open" and opened["id_tag"] == "CARD-OK", opened
        [call] = [c for c in node.of("call") if c["action"] == dialect.start_request]
        assert dialect.token_of(call["params"]) == "CARD-OK"
        started = await node.wait_for(lambda event: event["event"] == "transactionStarted")
        assert started["status"] == "Accepted"
        stop = await client.patch(
            f"/transactions/{created['transaction_uuid']}", json={"state": "closed"}
        )
        closed = await poll_queue(client, stop.json()["id"])
        assert closed["state"] == "Closed" and closed["stop_reason"] == "Remote", closed
        assert node.failures() == [], node.transcript()


async def test_card_sessions_with_the_simulator(op: Operator, simulators: Simulators) -> None:
    """Our simulator begins a session with a card (1.6 StartTransaction; 2.0.1 Started with an
    ISO14443 idToken), and starts one it is asked to with the driver's card."""
    await register_cards(op)
    charger = await op.add_charger(connectors=2)
    sim = await online(simulators, op.server, charger)
    async with op.client() as client:
        await sim.begin_transaction(1, "CARD-TWO")
        session = await the_session(client, "CARD-TWO")
        open_card_session(session, "CARD-TWO", charger.port_uuids[0])
        created = await start_session(client, charger.port_uuids[1], id_tag="CARD-OK")
        opened = await poll_queue(client, created["queue_uuid"])
        assert opened["state"] == "Open" and opened["id_tag"] == "CARD-OK", opened
        for uuid_ in (session["transaction_uuid"], created["transaction_uuid"]):
            stop = await client.patch(f"/transactions/{uuid_}", json={"state": "closed"})
            closed = await poll_queue(client, stop.json()["id"])
            assert closed["state"] == "Closed" and closed["stop_reason"] == "Remote", closed

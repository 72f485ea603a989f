"""Cards presented at a charger are answered from its operator's token registry, in both OCPP
versions: Authorize, the start a charger reports (1.6 StartTransaction, 2.0.1 TransactionEvent)
and the stop (1.6 StopTransaction, 2.0.1 TransactionEvent Ended). Accepted, Blocked, Expired
(set so, or past its expiry), Invalid (unknown, another operator's, or only in the sandbox).
Then the same with the strict-schema charger we did not write (tests/js)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from support import (
    Operator,
    Server,
    id_tag_status,
    iso,
    raw_charger,
    start_report,
)
from test_independent_charger import V16, V201, Dialect, NodeCharger, running

EXPIRES = "2031-01-31T20:40:00Z"
CARDS: list[dict[str, Any]] = [
    {"id_tag": "GROUP-1", "status": "Accepted", "type": "Central"},
    {"id_tag": "CARD-OK", "status": "Accepted", "expires": EXPIRES, "parent_id_tag": "GROUP-1"},
    {"id_tag": "CARD-LOST", "status": "Blocked"},
    {"id_tag": "CARD-OLD", "status": "Expired"},
    # Accepted, but past its expiry.
    {"id_tag": "CARD-PAST", "status": "Accepted", "expires": "2020-01-01T00:00:00Z"},
    # Blocked stays Blocked past its expiry.
    {"id_tag": "CARD-GONE", "status": "Blocked", "expires": "2020-01-01T00:00:00Z"},
    # A group no token stands for; 2.0.1 is told it as a Central group.
    {"id_tag": "CARD-FLEET", "status": "Accepted", "parent_id_tag": "FLEET-UNREGISTERED"},
]
EXPECTED = {
    "CARD-OK": "Accepted",
    "card-ok": "Accepted",  # tokens are compared without regard to letter case
    "GROUP-1": "Accepted",
    "CARD-LOST": "Blocked",
    "CARD-OLD": "Expired",
    "CARD-PAST": "Expired",
    "CARD-GONE": "Blocked",
    "CARD-NONE": "Invalid",
    "CARD-THEIRS": "Invalid",  # another operator's
    "CARD-STG": "Invalid",  # only in this operator's sandbox
}


async def register(server: Server) -> Operator:
    """An operator with CARDS, another operator's card and a sandbox card."""
    op = await server.operator()
    other = await server.operator()
    async with op.client() as client, other.client() as theirs:
        for card in CARDS:
            assert (await client.post("/tokens", json=card)).status_code == 201
        staged = {"id_tag": "CARD-STG", "status": "Accepted", "stg": True}
        assert (await client.post("/tokens", json=staged)).status_code == 201
        theirs_card = {"id_tag": "CARD-THEIRS", "status": "Accepted"}
        assert (await theirs.post("/tokens", json=theirs_card)).status_code == 201
    return op


def presented(subprotocol: str, tag: str) -> dict[str, Any]:
    if subprotocol == "ocpp1.6":
        return {"idTag": tag}
    return {"idToken": {"idToken": tag, "type": "ISO14443"}}


def info(answer: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = answer.get("idTagInfo") or answer["idTokenInfo"]
    return found


@pytest.mark.parametrize("subprotocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_charger_is_answered_from_the_registry(server: Server, subprotocol: str) -> None:
    op = await register(server)
    async with raw_charger(op, subprotocol, connectors=2) as (raw, _):
        for tag, status in EXPECTED.items():
            answer = await raw.call("Authorize", presented(subprotocol, tag))
            assert info(answer)["status"] == status, (tag, answer)

        ok = info(await raw.call("Authorize", presented(subprotocol, "CARD-OK")))
        fleet = info(await raw.call("Authorize", presented(subprotocol, "CARD-FLEET")))
        lost = info(await raw.call("Authorize", presented(subprotocol, "CARD-LOST")))
        assert lost == {"status": "Blocked"}
        if subprotocol == "ocpp1.6":
            assert ok == {
                "status": "Accepted",
                "expiryDate": "2031-01-31T20:40:00.000Z",
                "parentIdTag": "GROUP-1",
            }
            # FLEET-UNREGISTERED is 18 characters: a 1.6 parentIdTag still.
            assert fleet == {"status": "Accepted", "parentIdTag": "FLEET-UNREGISTERED"}
        else:
            assert ok == {
                "status": "Accepted",
                "cacheExpiryDateTime": "2031-01-31T20:40:00.000Z",
                "groupIdToken": {"idToken": "GROUP-1", "type": "Central"},
            }
            assert fleet == {
                "status": "Accepted",
                "groupIdToken": {"idToken": "FLEET-UNREGISTERED", "type": "Central"},
            }

        # A session begun at the charger with a card: its start says what the card is.
        action, start = start_report(subprotocol, 1, "CARD-OK", iso(-60))
        started = await raw.call(action, start)
        assert id_tag_status(started) == "Accepted"
        action, refused = start_report(subprotocol, 2, "CARD-LOST", iso(-30))
        assert id_tag_status(await raw.call(action, refused)) == "Blocked"

        # And its stop too, with the card's current word: blocked while charging, it says so.
        async with op.client() as client:
            patched = await client.patch("/tokens/CARD-OK", json={"status": "Blocked"})
            assert patched.status_code == 200
        if subprotocol == "ocpp1.6":
            stop = {
                "transactionId": started["transactionId"],
                "idTag": "CARD-OK",
                "meterStop": 100,
                "timestamp": iso(0),
            }
            stopped = await raw.call("StopTransaction", stop)
        else:
            stopped = await raw.call(
                "TransactionEvent",
                {
                    "eventType": "Ended",
                    "timestamp": iso(0),
                    "triggerReason": "StopAuthorized",
                    "seqNo": 1,
                    "transactionInfo": start["transactionInfo"],
                    "idToken": start["idToken"],
                },
            )
        assert info(stopped)["status"] == "Blocked", stopped


async def test_a_deleted_card_is_invalid_again(server: Server) -> None:
    op = await register(server)
    async with raw_charger(op, "ocpp1.6") as (raw, _):
        assert info(await raw.call("Authorize", {"idTag": "CARD-OK"}))["status"] == "Accepted"
        async with op.client() as client:
            assert (await client.delete("/tokens/CARD-OK")).status_code == 204
        assert await raw.call("Authorize", {"idTag": "CARD-OK"}) == {
            "idTagInfo": {"status": "Invalid"}
        }


def authorize_results(node: NodeCharger, dialect: Dialect) -> dict[str, str]:
    """Each card the charger presented, and the status it was answered with."""
    return {
        dialect.token_of(event["params"]): info(event["result"])["status"]
        for event in node.of("result", "Authorize")
    }


@pytest.mark.parametrize("dialect", [V16, V201], ids=["1.6", "2.0.1"])
async def test_cards_with_an_independent_strict_charger(server: Server, dialect: Dialect) -> None:
    """ocpp-rpc checks every answer against its own copy of the OCPP schemas."""
    op = await register(server)
    charger = await op.add_charger(connectors=1)
    cards = ",".join(EXPECTED)
    node = NodeCharger(server, charger, dialect, f"--cards={cards}", "--start-card=CARD-OK")
    async with running(node):
        await node.wait_for(lambda event: event["event"] == "cardsPresented")
        assert authorize_results(node, dialect) == {
            **EXPECTED,
            # Presented at boot by the charger itself: no one's card.
            dialect.token_of(node.of("result", "Authorize")[0]["params"]): "Invalid",
        }
        # Started at the charger with the card (2.0.1: TransactionEvent Started, Authorized).
        [started] = node.of("transactionStarted")
        assert started["idTag"] == "CARD-OK" and started["status"] == "Accepted"
        assert node.failures() == [], node.transcript()


def unknown_tokens(server: Server, operator: str, policy: str) -> None:
    """The operator setting, through the real command line."""
    done = subprocess.run(
        [sys.executable, "-m", "chargegate", "operators", "unknown-tokens", operator, policy],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("subprotocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_an_operator_may_accept_unknown_cards(server: Server, subprotocol: str) -> None:
    """Free vend: a card not in the registry is Accepted; the registry still has the last word
    on the cards it holds. Another operator is not affected."""
    op = await register(server)
    other = await server.operator()
    free_vend = {
        "CARD-NONE": "Accepted",
        "CARD-THEIRS": "Accepted",
        "CARD-STG": "Accepted",
        "CARD-LOST": "Blocked",
        "CARD-PAST": "Expired",
        "CARD-OK": "Accepted",
    }
    async with (
        raw_charger(op, subprotocol) as (raw, _),
        raw_charger(other, subprotocol) as (theirs, _),
    ):
        await asyncio.to_thread(unknown_tokens, server, op.name, "accept")
        for tag, status in free_vend.items():
            answer = await raw.call("Authorize", presented(subprotocol, tag))
            assert info(answer)["status"] == status, (tag, answer)
        action, start = start_report(subprotocol, 1, "CARD-NONE", iso(-60))
        assert id_tag_status(await raw.call(action, start)) == "Accepted"
        answer = await theirs.call("Authorize", presented(subprotocol, "CARD-NONE"))
        assert info(answer) == {"status": "Invalid"}

        await asyncio.to_thread(unknown_tokens, server, op.name, "reject")
        answer = await raw.call("Authorize", presented(subprotocol, "CARD-NONE"))
        assert info(answer) == {"status": "Invalid"}


def test_the_policy_is_reject_or_accept(server: Server) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chargegate", "operators", "unknown-tokens", "acme", "maybe"],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "maybe" in done.stderr

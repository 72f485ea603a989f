"""Chargers retry transaction messages with new message ids after reconnects: each retry gets
the first answer, and never a second transaction."""

from __future__ import annotations

from typing import Any

from support import (
    Charger,
    Operator,
    RawCharger,
    accepted_cards,
    cable_plugged,
    poll_queue,
    start_session,
    transactions,
)

NOW = "2026-01-01T10:00:00Z"


async def test_v16_start_and_stop_retries(op: Operator, raw16: tuple[RawCharger, Charger]) -> None:
    raw, charger = raw16
    async with op.client() as client:
        created = await start_session(client, charger.port)
        order = await raw.next_request("RemoteStartTransaction")
        start = {"connectorId": 1, "idTag": order["idTag"], "meterStart": 100, "timestamp": NOW}
        first = await raw.call("StartTransaction", start)
        retry = await raw.call("StartTransaction", start)
        assert first == retry
        assert first["idTagInfo"]["status"] == "Accepted"
        [only] = await transactions(client, charger.port)
        assert only["transaction_uuid"] == created["transaction_uuid"]
        assert only["started"] == "2026-01-01T10:00:00"

        stop = {
            "transactionId": first["transactionId"],
            "meterStop": 600,
            "timestamp": NOW[:-3] + "30Z",
        }
        assert await raw.call("StopTransaction", stop) == {}
        assert await raw.call("StopTransaction", {**stop, "meterStop": 9999}) == {}
        [closed] = await transactions(client, charger.port)
        assert closed["state"] == "Closed"
        assert closed["energy_wh"] == 500  # the retry changed nothing
        assert (await poll_queue(client, created["queue_uuid"]))["state"] == "Closed"


async def test_v16_start_at_the_charger_is_recorded_once(
    op: Operator, raw16: tuple[RawCharger, Charger]
) -> None:
    raw, charger = raw16
    await accepted_cards(op, "RFID-CARD-1")
    start = {"connectorId": 1, "idTag": "RFID-CARD-1", "meterStart": 5, "timestamp": NOW}
    first = await raw.call("StartTransaction", start)
    retry = await raw.call("StartTransaction", start)
    assert first == retry
    assert first["idTagInfo"]["status"] == "Accepted"
    async with op.client() as client:
        [recorded] = await transactions(client, charger.port)
        assert recorded["state"] == "Open" and recorded["expires"] is None
        await raw.call(
            "StopTransaction",
            {"transactionId": first["transactionId"], "meterStop": 7, "timestamp": NOW},
        )
        [closed] = await transactions(client, charger.port)
        assert closed["state"] == "Closed"


async def test_v201_transaction_event_retries(
    op: Operator, raw201: tuple[RawCharger, Charger]
) -> None:
    raw, charger = raw201
    async with op.client() as client:
        created = await start_session(client, charger.port)
        order = await raw.next_request("RequestStartTransaction")
        assert order["evseId"] == 1 and order["idToken"]["type"] == "Central"

        def event(kind: str, seq: int, wh: int, **info: Any) -> dict[str, Any]:
            return {
                "eventType": kind,
                "timestamp": NOW,
                "triggerReason": "RemoteStart",
                "seqNo": seq,
                "transactionInfo": {"transactionId": "T-1", **info},
                "evse": {"id": 1, "connectorId": 1},
                "meterValue": [
                    {
                        "timestamp": NOW,
                        "sampledValue": [{"value": wh, "unitOfMeasure": {"unit": "Wh"}}],
                    }
                ],
            }

        started = event("Started", 0, 1000, remoteStartId=order["remoteStartId"])
        assert await raw.call("TransactionEvent", started) == {}
        assert await raw.call("TransactionEvent", started) == {}
        assert (await poll_queue(client, created["queue_uuid"]))["state"] == "Open"
        await raw.call("TransactionEvent", event("Updated", 1, 1400))
        [only] = await transactions(client, charger.port)
        assert only["energy_wh"] == 400

        ended = event("Ended", 2, 1900, stoppedReason="Local")
        assert await raw.call("TransactionEvent", ended) == {}
        assert await raw.call("TransactionEvent", {**ended, "seqNo": 3}) == {}
        [closed] = await transactions(client, charger.port)
        assert closed["state"] == "Closed"
        assert closed["energy_wh"] == 900


async def test_v201_cable_first_then_remote_start_is_one_transaction(
    op: Operator, raw201: tuple[RawCharger, Charger]
) -> None:
    """A station may open its transaction when the cable goes in, before our start arrives;
    the start request then names that transaction, which becomes ours."""
    raw, charger = raw201
    plugged = cable_plugged("T-CABLE", NOW)
    assert await raw.call("TransactionEvent", plugged) == {}
    async with op.client() as client:
        created = await start_session(client, charger.port)
        order = await raw.next_request("RequestStartTransaction")
        authorized = {
            **plugged,
            "eventType": "Updated",
            "triggerReason": "RemoteStart",
            "seqNo": 1,
            "transactionInfo": {
                "transactionId": "T-CABLE",
                "remoteStartId": order["remoteStartId"],
            },
            "idToken": order["idToken"],
        }
        answer = await raw.call("TransactionEvent", authorized)
        assert answer == {"idTokenInfo": {"status": "Accepted"}}
        opened = await poll_queue(client, created["queue_uuid"])
        assert opened["state"] == "Open"
        [only] = await transactions(client, charger.port)
        assert only["transaction_uuid"] == created["transaction_uuid"]
        assert only["started"] == "2026-01-01T10:00:00"


async def test_v201_ended_for_unknown_transaction_is_acknowledged(
    raw201: tuple[RawCharger, Charger],
) -> None:
    raw, _ = raw201
    ended = {
        "eventType": "Ended",
        "timestamp": NOW,
        "triggerReason": "StopAuthorized",
        "seqNo": 5,
        "transactionInfo": {"transactionId": "never-seen"},
    }
    assert await raw.call("TransactionEvent", ended) == {}

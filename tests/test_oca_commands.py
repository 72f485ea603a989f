"""The OCA test cases of the operator's commands, from the CSMS side: OCPP 1.6 TC_013/014
(reset), TC_017/018/031 (unlock), TC_054/055 (trigger), TC_061 (clear cache); 2.0.1 TC_B_20,
TC_B_21, TC_B_22 (reset with and without a transaction). Each runs against our simulator and
the independent strict-schema charger (tests/js/strict_charger.mjs) in the case's version."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from chargegate.sim.charger import SimulatedCharger
from support import Charger, Operator, open_session, poll_queue, poll_transaction
from test_charger_commands import queued
from test_independent_charger import V16, V201, NodeCharger, running

Payload = dict[str, Any]
KINDS = pytest.mark.parametrize("kind", ["sim", "strict"])


@dataclass
class Station:
    """A charger under test, whichever implementation: the CALLs it got, and its reboots."""

    calls: Callable[[str], list[Payload]]
    rebooted: Callable[[], Awaitable[None]]


@contextlib.asynccontextmanager
async def station(
    kind: str, op: Operator, charger: Charger, version: str, trigger: str = "Accepted"
) -> AsyncIterator[Station]:
    if kind == "sim":
        sim = SimulatedCharger(
            url=op.server.ws_url,
            charge_point_id=charger.charge_point_id,
            ocpp_version=version,
            triggers=trigger,
        )
        sim.start()
        try:
            await sim.wait_until(lambda: sim.online)

            async def sim_rebooted() -> None:
                await sim.wait_until(lambda: sim.boots == 2 and sim.online)

            yield Station(sim.requests, sim_rebooted)
        finally:
            await sim.power_off()
        return
    dialect = V16 if version == "1.6" else V201
    node = NodeCharger(op.server, charger, dialect, f"--trigger={trigger}")
    async with running(node):

        def calls(action: str) -> list[Payload]:
            return [event["params"] for event in node.of("call", action)]

        async def node_rebooted() -> None:
            await node.wait_for(lambda event: event["event"] == "rebooted")

        yield Station(calls, node_rebooted)


async def command(
    client: httpx.AsyncClient, charger: Charger, action: str, **params: Any
) -> dict[str, Any]:
    """The command's queue item, once resolved."""
    queue_uuid = await queued(client, charger.charge_point_id, action=action, params=params)
    return await poll_queue(client, queue_uuid)


def succeeded(item: dict[str, Any], status: str) -> None:
    assert item["status"] == "SUCCESS" and item["result"] == {"status": status}, item


# -- OCPP 1.6 -------------------------------------------------------------------------------


@KINDS
@pytest.mark.parametrize(("case", "kind_of_reset"), [("tc_013", "Hard"), ("tc_014", "Soft")])
async def test_tc_013_hard_and_tc_014_soft_reset(
    op: Operator, kind: str, case: str, kind_of_reset: str
) -> None:
    """Reset.req Hard / Soft: Accepted, and the charger boots again."""
    charger = await op.add_charger()
    async with station(kind, op, charger, "1.6") as cp, op.client() as client:
        succeeded(await command(client, charger, "reset", type=kind_of_reset.lower()), "Accepted")
        await cp.rebooted()
        assert cp.calls("Reset") == [{"type": kind_of_reset}]


@KINDS
async def test_tc_017_unlock_without_a_session(op: Operator, kind: str) -> None:
    charger = await op.add_charger()
    async with station(kind, op, charger, "1.6") as cp, op.client() as client:
        succeeded(await command(client, charger, "unlock_connector", port=1), "Unlocked")
        assert cp.calls("UnlockConnector") == [{"connectorId": 1}]


@KINDS
async def test_tc_018_unlock_with_a_session(op: Operator, kind: str) -> None:
    """The charger ends the transaction first (StopTransaction, reason UnlockCommand), which
    we accept: the session closes in the API with that reason."""
    charger = await op.add_charger()
    async with station(kind, op, charger, "1.6"), op.client() as client:
        created = await open_session(client, charger.port)
        succeeded(await command(client, charger, "unlock_connector", port=1), "Unlocked")
        closed = await poll_transaction(
            client, created["transaction_uuid"], lambda tx: tx["state"] == "Closed"
        )
    assert closed["stop_reason"] == "UnlockCommand", closed


@KINDS
async def test_tc_031_unlock_an_unknown_connector(op: Operator, kind: str) -> None:
    """Registered with more ports than it has: the station does not know connector 2 (a port
    that is not registered at all is refused before it goes out, with a 400)."""
    charger = await op.add_charger(2)
    one_port = Charger(charger.charge_point_id, charger.port_uuids[:1])
    async with station(kind, op, one_port, "1.6") as cp, op.client() as client:
        failed = await command(client, charger, "unlock_connector", port=2)
        assert cp.calls("UnlockConnector") == [{"connectorId": 2}]
    assert failed["status"] == "FAILURE", failed
    assert failed["reason"] == "The charger rejected UnlockConnector (NotSupported)"


@KINDS
async def test_tc_054_trigger_message(op: Operator, kind: str) -> None:
    """TriggerMessage for each message the charger sends on request: Accepted."""
    charger = await op.add_charger()
    async with station(kind, op, charger, "1.6") as cp, op.client() as client:
        for message in ("StatusNotification", "Heartbeat"):
            done = await command(client, charger, "trigger_message", message=message, port=1)
            succeeded(done, "Accepted")
        assert cp.calls("TriggerMessage") == [
            {"requestedMessage": "StatusNotification", "connectorId": 1},
            {"requestedMessage": "Heartbeat", "connectorId": 1},
        ]


@KINDS
async def test_tc_055_trigger_message_rejected(op: Operator, kind: str) -> None:
    charger = await op.add_charger()
    async with (
        station(kind, op, charger, "1.6", trigger="Rejected"),
        op.client() as client,
    ):
        failed = await command(client, charger, "trigger_message", message="MeterValues")
    assert failed["reason"] == "The charger rejected TriggerMessage (Rejected)", failed


@KINDS
async def test_tc_061_clear_cache(op: Operator, kind: str) -> None:
    charger = await op.add_charger()
    async with station(kind, op, charger, "1.6") as cp, op.client() as client:
        succeeded(await command(client, charger, "clear_cache"), "Accepted")
        assert cp.calls("ClearCache") == [{}]


# -- OCPP 2.0.1 -----------------------------------------------------------------------------


@KINDS
async def test_tc_b_20_reset_without_a_transaction(op: Operator, kind: str) -> None:
    charger = await op.add_charger()
    async with station(kind, op, charger, "2.0.1") as cp, op.client() as client:
        succeeded(await command(client, charger, "reset", type="on_idle"), "Accepted")
        await cp.rebooted()
        assert cp.calls("Reset") == [{"type": "OnIdle"}]


@KINDS
async def test_tc_b_21_reset_on_idle_with_a_transaction(op: Operator, kind: str) -> None:
    """OnIdle while charging: Scheduled, reported as the result; the session goes on."""
    charger = await op.add_charger()
    async with station(kind, op, charger, "2.0.1"), op.client() as client:
        created = await open_session(client, charger.port)
        succeeded(await command(client, charger, "reset", type="on_idle"), "Scheduled")
        session = (await client.get(f"/transactions/{created['transaction_uuid']}")).json()
        assert session["state"] == "Open", session
        await client.patch(f"/transactions/{created['transaction_uuid']}", json={"state": "closed"})


@KINDS
async def test_tc_b_22_reset_immediate_with_a_transaction(op: Operator, kind: str) -> None:
    """Immediate while charging: the station ends the transaction (stoppedReason
    ImmediateReset), which closes the session with that reason, and boots again."""
    charger = await op.add_charger()
    async with station(kind, op, charger, "2.0.1") as cp, op.client() as client:
        created = await open_session(client, charger.port)
        succeeded(await command(client, charger, "reset", type="immediate"), "Accepted")
        closed = await poll_transaction(
            client, created["transaction_uuid"], lambda tx: tx["state"] == "Closed"
        )
        await cp.rebooted()
    assert closed["stop_reason"] == "ImmediateReset", closed

"""Every action of POST /1.2/chargers/<id>/commands across two nodes on one PostgreSQL database
and one Redis broker: the command is posted to node B, the simulated charger is connected to
node A, and node B's queue item reports the charger's answer (or its refusal); what the charger
reports afterwards on A (firmware and diagnostics statuses) is what B's GET shows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from ocpp.v16.enums import Action

from chargegate.domain.states import ChargerAction
from chargegate.sim.charger import SimulatedCharger
from chargegate.sim.local_list import LocalList
from chargegate.sim.operations import VENDOR_ID
from support import Charger, Operator, Simulators, online, poll_json, poll_queue
from test_multinode import REDIS_URL, Cluster, client_for, needs_redis

pytestmark = [pytest.mark.postgres_only, needs_redis]

V16, V201 = "1.6", "2.0.1"
FIRMWARE = "https://files.example.com/fw/sim-2.0.bin"
UPLOADS = "ftp://logs.example.com/uploads/"


@dataclass(frozen=True)
class Nodes:
    cluster: Cluster
    version: str


@pytest.fixture(scope="module", params=[V16, V201], ids=["ocpp1.6", "ocpp2.0.1"])
def nodes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Nodes]:
    """One pair of nodes per OCPP version, shared by its tests (each with its own operator and
    charger)."""
    with Cluster(tmp_path_factory.mktemp("nodes"), REDIS_URL).running() as cluster:
        yield Nodes(cluster, request.param)


@dataclass(frozen=True)
class Setup:
    operator: Operator
    charger: Charger
    sim: SimulatedCharger
    on_b: httpx.AsyncClient
    version: str

    @property
    def v16(self) -> bool:
        return self.version == V16

    async def command(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """POST to node B; B's queue item once resolved."""
        sent = await self.on_b.post(
            f"/chargers/{self.charger.charge_point_id}/commands",
            json={"action": action, "params": params},
        )
        assert sent.status_code == 202, sent.text
        done = await poll_queue(self.on_b, sent.json()["id"])
        assert done["command"] == action, done
        return done

    async def shown_on_b(self, field: str, status: str) -> dict[str, Any]:
        """Node B's GET /chargers/<id>, once `field` reads `status`."""
        return await poll_json(
            self.on_b,
            f"/chargers/{self.charger.charge_point_id}",
            lambda body: body[field] == status,
            30,
            None,
        )


@pytest.fixture
async def charger_on_a(nodes: Nodes) -> AsyncIterator[Callable[..., Any]]:
    """Connects a new simulated charger (with the options given) to node A."""
    sims = Simulators(nodes.version)
    clients: list[httpx.AsyncClient] = []

    async def connect(**options: Any) -> Setup:
        operator = await nodes.cluster.a.operator()
        charger = await operator.add_charger()
        sim = await online(sims, nodes.cluster.a, charger, **options)
        on_b = client_for(nodes.cluster.b, operator)
        clients.append(on_b)
        return Setup(operator, charger, sim, on_b, nodes.version)

    yield connect
    for client in clients:
        await client.aclose()
    for sim in sims:
        await sim.power_off()


@dataclass(frozen=True)
class Case:
    """An action, its params in each version, and what the charger answers (as the result)."""

    action: ChargerAction
    params: dict[str, dict[str, Any]]
    # The result, from the version and the charger's id (for answers naming it).
    result: Callable[[str, str], Any]
    options: dict[str, Any] = field(default_factory=dict)


def same(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {V16: params, V201: params}


def answered(status: str) -> Callable[[str, str], Any]:
    return lambda version, cp: {"status": status}


def configuration_read(version: str, cp: str) -> Any:
    if version == V16:
        return {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}]
        }
    return {
        "getVariableResult": [
            {
                "attributeStatus": "Accepted",
                "attributeValue": "300",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "OfflineThreshold"},
            }
        ]
    }


def configuration_set(version: str, cp: str) -> Any:
    if version == V16:
        return {"status": "Accepted"}
    return {
        "setVariableResult": [
            {
                "attributeStatus": "Accepted",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "OfflineThreshold"},
            }
        ]
    }


class Having(dict[str, Any]):
    """Equal to any answer holding these fields (one whose other fields hold times)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, dict) and all(other.get(k) == v for k, v in self.items())

    __hash__ = None  # type: ignore[assignment]


def diagnostics_file(version: str, cp: str) -> Any:
    name = f"{cp}-diagnostics.log"
    return {"fileName": name} if version == V16 else {"status": "Accepted", "filename": name}


CASES = [
    Case(ChargerAction.CLEAR_CACHE, same({}), answered("Accepted")),
    Case(
        ChargerAction.GET_LOCAL_LIST_VERSION,
        same({}),
        # No tokens yet: the list the charger holds is the empty one it started with.
        lambda version, cp: {"listVersion" if version == V16 else "versionNumber": 0},
        {"local_list": LocalList()},
    ),
    Case(
        ChargerAction.RESET,
        {V16: {"type": "hard"}, V201: {"type": "immediate"}},
        answered("Accepted"),
    ),
    Case(
        ChargerAction.UPDATE_FIRMWARE,
        same({"location": FIRMWARE, "retries": 0}),
        lambda version, cp: {} if version == V16 else {"status": "Accepted"},
    ),
    Case(
        ChargerAction.GET_DIAGNOSTICS,
        same({"location": UPLOADS}),
        diagnostics_file,
    ),
    Case(ChargerAction.UNLOCK_CONNECTOR, same({"port": 1}), answered("Unlocked")),
    Case(
        ChargerAction.CHANGE_AVAILABILITY,
        same({"port": 1, "operative": False}),
        answered("Accepted"),
    ),
    Case(ChargerAction.TRIGGER_MESSAGE, same({"message": "Heartbeat"}), answered("Accepted")),
    Case(
        ChargerAction.DATA_TRANSFER,
        same({"vendor_id": VENDOR_ID, "message_id": "echo", "data": "ping"}),
        lambda version, cp: {"status": "Accepted", "data": "ping"},
    ),
    Case(
        ChargerAction.GET_CONFIGURATION,
        {V16: {"keys": ["HeartbeatInterval"]}, V201: {"keys": ["OCPPCommCtrlr.OfflineThreshold"]}},
        configuration_read,
    ),
    Case(
        ChargerAction.CHANGE_CONFIGURATION,
        {
            V16: {"key": "MeterValueSampleInterval", "value": "60"},
            V201: {"key": "OCPPCommCtrlr.OfflineThreshold", "value": "120"},
        },
        configuration_set,
    ),
    Case(
        ChargerAction.SET_CHARGING_PROFILE,
        {
            V16: {"purpose": "ChargePointMaxProfile", "unit": "A", "limit": 20},
            V201: {"purpose": "ChargingStationMaxProfile", "unit": "A", "limit": 20},
        },
        answered("Accepted"),
        {"smart_charging": True},
    ),
    Case(
        ChargerAction.GET_COMPOSITE_SCHEDULE,
        same({"port": 1, "duration_s": 60}),
        lambda version, cp: Having(status="Accepted"),
        {"smart_charging": True},
    ),
]


def test_every_action_has_a_case() -> None:
    """A new action joins this module, or this fails (send_local_list and
    clear_charging_profile are tests of their own below)."""
    own = {ChargerAction.SEND_LOCAL_LIST, ChargerAction.CLEAR_CHARGING_PROFILE}
    covered = {case.action for case in CASES} | own
    assert covered == set(ChargerAction)


@pytest.mark.parametrize("case", CASES, ids=[case.action.value for case in CASES])
async def test_an_action_posted_to_the_other_node(
    charger_on_a: Callable[..., Any], case: Case
) -> None:
    setup: Setup = await charger_on_a(**case.options)
    done = await setup.command(case.action, case.params[setup.version])
    assert done["status"] == "SUCCESS", done
    assert done["result"] == case.result(setup.version, setup.charger.charge_point_id), done
    assert setup.sim.connections >= 1


async def test_clear_charging_profile_posted_to_the_other_node(
    charger_on_a: Callable[..., Any],
) -> None:
    """A profile set through node B, then cleared through it, over node A."""
    setup: Setup = await charger_on_a(smart_charging=True)
    purpose = "ChargePointMaxProfile" if setup.v16 else "ChargingStationMaxProfile"
    limit = {"purpose": purpose, "unit": "A", "limit": 20, "profile_id": 7}
    done = await setup.command(ChargerAction.SET_CHARGING_PROFILE, limit)
    assert done["status"] == "SUCCESS", done
    done = await setup.command(ChargerAction.CLEAR_CHARGING_PROFILE, {"profile_id": 7})
    assert done["status"] == "SUCCESS" and done["result"] == {"status": "Accepted"}, done


async def test_send_local_list_posted_to_the_other_node(charger_on_a: Callable[..., Any]) -> None:
    """A token added through node B reaches the charger's list on node A; send_local_list
    posted to B then sends the whole list again, over node A."""
    setup: Setup = await charger_on_a(local_list=LocalList())
    held = setup.sim.local_list
    assert held is not None
    added = await setup.on_b.post("/tokens", json={"id_tag": "CARD-1", "status": "Accepted"})
    assert added.is_success, added.text
    await setup.sim.wait_until(lambda: held.status_of("CARD-1") == "Accepted")
    asked = setup.sim.count(Action.get_local_list_version)
    done = await setup.command(ChargerAction.SEND_LOCAL_LIST, {})
    assert done["status"] == "SUCCESS", done
    # Asked for, it goes in full even though the charger is in sync.
    assert done["result"] == "SendLocalList: version 2 (Full, 1 entries in 1 message)", done
    assert setup.sim.count(Action.get_local_list_version) == asked + 1
    assert held.version == 2 and held.status_of("CARD-1") == "Accepted"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("Rejected", "The charger rejected Reset (Rejected)"),
        (None, "The charger does not support Reset (it answered NotSupported"),
    ],
    ids=["rejected", "not-supported"],
)
async def test_a_refusal_on_node_a_fails_the_item_on_node_b(
    charger_on_a: Callable[..., Any], answer: str | None, reason: str
) -> None:
    setup: Setup = await charger_on_a(reset=answer)
    kind = "soft" if setup.v16 else "on_idle"
    failed = await setup.command(ChargerAction.RESET, {"type": kind})
    assert failed["status"] == "FAILURE", failed
    assert failed["reason"].startswith(reason), failed
    assert setup.sim.boots == 1


async def test_firmware_and_diagnostics_reports_on_a_are_shown_by_b(
    charger_on_a: Callable[..., Any],
) -> None:
    """The charger reports its progress to node A; node B's GET /chargers/<id> (and .../firmware)
    shows the last status of each."""
    setup: Setup = await charger_on_a(firmware_version="sim-1.0")
    cp = setup.charger.charge_point_id
    before = (await setup.on_b.get(f"/chargers/{cp}")).json()
    assert (before["firmware_status"], before["diagnostics_status"]) == (None, None)
    firmware = await setup.command(ChargerAction.UPDATE_FIRMWARE, {"location": FIRMWARE})
    assert firmware["status"] == "SUCCESS", firmware
    shown = await setup.shown_on_b("firmware_status", "Installed")
    assert shown["firmware_status_at"] is not None
    # The charger rebooted on its new firmware, back on node A.
    await setup.sim.wait_until(lambda: setup.sim.boots == 2 and setup.sim.online)
    diagnostics = await setup.command(ChargerAction.GET_DIAGNOSTICS, {"location": UPLOADS})
    assert diagnostics["status"] == "SUCCESS", diagnostics
    shown = await setup.shown_on_b("diagnostics_status", "Uploaded")
    assert shown["firmware_status"] == "Installed" and shown["node"] == "node-a"
    assert shown["firmware_version"] == "sim-2.0"
    report = (await setup.on_b.get(f"/chargers/{cp}/firmware")).json()
    assert report == {
        name: shown[name]
        for name in (
            "firmware_status",
            "firmware_status_at",
            "diagnostics_status",
            "diagnostics_status_at",
        )
    }

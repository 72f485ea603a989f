"""A charger's configuration through the API: the get_configuration and change_configuration
commands (1.6 GetConfiguration / ChangeConfiguration; 2.0.1 GetVariables / SetVariables, and
GetBaseReport with its NotifyReport parts), and GET /1.2/chargers/<id>/configuration, the keys
as last read. Against simulated chargers, which answer as real ones do, and the strict-schema
charger; OCA test cases by name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from support import Operator, Server, Simulators, assert_error, online, poll_json, poll_queue
from test_independent_charger import V16, V201, Dialect, NodeCharger, running

pytestmark = pytest.mark.server_env({"CHARGEGATE_COMMAND_TIMEOUT_S": "3"})


@pytest.fixture
async def sims() -> AsyncIterator[Simulators]:
    """Simulated chargers for a test of one OCPP version (each test names it)."""
    started = Simulators("1.6")
    yield started
    for charger in started:
        await charger.power_off()


async def command(
    client: httpx.AsyncClient, charge_point_id: str, action: str, **params: Any
) -> dict[str, Any]:
    """POST the command and follow its queue item to the end."""
    response = await client.post(
        f"/chargers/{charge_point_id}/commands", json={"action": action, "params": params}
    )
    assert response.status_code == 202, response.text
    done = await poll_queue(client, response.json()["id"])
    assert done["command"] == action, done
    return done


async def cached(client: httpx.AsyncClient, charge_point_id: str) -> dict[str, dict[str, Any]]:
    """The configuration as last read, by key (checking each entry's shape); the charger's own
    GET shows the same."""
    response = await client.get(f"/chargers/{charge_point_id}/configuration")
    assert response.status_code == 200, response.text
    entries = response.json()["keys"]
    charger = await client.get(f"/chargers/{charge_point_id}")
    assert charger.status_code == 200 and charger.json()["configuration"] == entries, charger.text
    assert [entry["key"] for entry in entries] == sorted(entry["key"] for entry in entries)
    for entry in entries:
        assert set(entry) == {"key", "value", "readonly", "read_at"}, entry
    return {entry.pop("key"): entry for entry in entries}


async def probed(client: httpx.AsyncClient, charge_point_id: str, key: str) -> None:
    """Until the read after boot is in the cache."""
    await poll_json(
        client,
        f"/chargers/{charge_point_id}/configuration",
        lambda body: key in [entry["key"] for entry in body["keys"]],
        30,
        None,
    )


def values(entries: dict[str, dict[str, Any]]) -> dict[str, tuple[str | None, bool | None]]:
    return {key: (entry["value"], entry["readonly"]) for key, entry in entries.items()}


# -- OCPP 1.6 ----------------------------------------------------------------------------------


async def test_tc_019_1_retrieve_all_configuration_keys(
    shared_server: Server, op: Operator, sims: Simulators
) -> None:
    charger = await op.add_charger()
    sim = await online(sims, shared_server, charger, ocpp_version="1.6")
    async with op.client() as client:
        done = await command(client, charger.charge_point_id, "get_configuration")
        keys = await cached(client, charger.charge_point_id)
    # Without keys, the request names none and the charger answers with all of them.
    assert sim.requests("GetConfiguration")[-1] == {}
    assert done["status"] == "SUCCESS", done
    read = {entry["key"]: entry for entry in done["result"]["configurationKey"]}
    assert "unknownKey" not in done["result"]
    assert read["SupportedFeatureProfiles"] == {
        "key": "SupportedFeatureProfiles",
        "value": "Core",
        "readonly": True,
    }
    assert read["HeartbeatInterval"]["readonly"] is False
    assert values(keys) == {key: (entry["value"], entry["readonly"]) for key, entry in read.items()}
    assert len(keys) == 7


async def test_tc_019_2_retrieve_a_specific_key(
    shared_server: Server, op: Operator, sims: Simulators
) -> None:
    charger = await op.add_charger()
    sim = await online(sims, shared_server, charger, ocpp_version="1.6")
    async with op.client() as client:
        await probed(client, charger.charge_point_id, "SupportedFeatureProfiles")
        done = await command(
            client,
            charger.charge_point_id,
            "get_configuration",
            keys=["HeartbeatInterval", "NoSuchKey"],
        )
        keys = await cached(client, charger.charge_point_id)
    assert sim.requests("GetConfiguration")[-1] == {"key": ["HeartbeatInterval", "NoSuchKey"]}
    assert done["status"] == "SUCCESS", done
    assert done["result"] == {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}],
        "unknownKey": ["NoSuchKey"],
    }
    # Merged into what the read after boot had cached.
    assert values(keys) == {
        "HeartbeatInterval": ("60", False),
        "SupportedFeatureProfiles": ("Core", True),
    }


async def test_tc_021_change_configuration(
    shared_server: Server, op: Operator, sims: Simulators
) -> None:
    """Accepted (TC_021), and how real chargers refuse: read-only Rejected, an unknown key
    NotSupported (TC_040_1), a bad value Rejected; RebootRequired is a change that takes."""
    charger = await op.add_charger()
    sim = await online(sims, shared_server, charger, ocpp_version="1.6")
    cpid = charger.charge_point_id
    async with op.client() as client:
        await probed(client, cpid, "SupportedFeatureProfiles")
        changed = await command(
            client, cpid, "change_configuration", key="MeterValueSampleInterval", value="60"
        )
        read = await command(client, cpid, "get_configuration", keys=["MeterValueSampleInterval"])
        reboot = await command(
            client, cpid, "change_configuration", key="WebSocketPingInterval", value="15"
        )
        readonly = await command(
            client, cpid, "change_configuration", key="NumberOfConnectors", value="2"
        )
        unknown = await command(client, cpid, "change_configuration", key="Testing", value="true")
        bad = await command(
            client, cpid, "change_configuration", key="HeartbeatInterval", value="often"
        )
        keys = await cached(client, cpid)
    assert sim.requests("ChangeConfiguration")[0] == {
        "key": "MeterValueSampleInterval",
        "value": "60",
    }
    assert changed == {
        "id": changed["id"],
        "status": "SUCCESS",
        "command": "change_configuration",
        "result": {"status": "Accepted"},
    }
    assert read["result"]["configurationKey"][0]["value"] == "60"
    assert reboot["status"] == "SUCCESS" and reboot["result"] == {"status": "RebootRequired"}
    assert readonly["status"] == unknown["status"] == bad["status"] == "FAILURE"
    assert readonly["reason"] == "The charger rejected ChangeConfiguration (Rejected)"
    assert unknown["reason"] == "The charger rejected ChangeConfiguration (NotSupported)"
    assert bad["reason"] == "The charger rejected ChangeConfiguration (Rejected)"
    # Changes the charger took are cached; refusals change nothing.
    assert values(keys) == {
        "MeterValueSampleInterval": ("60", False),
        "WebSocketPingInterval": ("15", False),
        "SupportedFeatureProfiles": ("Core", True),
    }


async def test_the_read_after_boot_is_cached(
    shared_server: Server, op: Operator, simulators: Simulators
) -> None:
    """chargegate's own question after each boot fills the cache with what it read."""
    charger = await op.add_charger()
    await online(simulators, shared_server, charger, smart_charging=True)
    key = (
        "SupportedFeatureProfiles"
        if simulators.ocpp_version == "1.6"
        else "SmartChargingCtrlr.Enabled"
    )
    async with op.client() as client:
        await probed(client, charger.charge_point_id, key)
        keys = await cached(client, charger.charge_point_id)
    expected = ("Core,SmartCharging", True) if key == "SupportedFeatureProfiles" else ("true", None)
    assert values(keys) == {key: expected}


# -- OCPP 2.0.1 --------------------------------------------------------------------------------


async def test_tc_b_06_get_variables_single_value(
    shared_server: Server, op: Operator, sims: Simulators
) -> None:
    charger = await op.add_charger()
    sim = await online(sims, shared_server, charger, ocpp_version="2.0.1")
    async with op.client() as client:
        done = await command(
            client,
            charger.charge_point_id,
            "get_configuration",
            keys=["OCPPCommCtrlr.OfflineThreshold"],
        )
        keys = await cached(client, charger.charge_point_id)
    assert sim.requests("GetVariables")[-1] == {
        "getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}
        ]
    }
    assert done["status"] == "SUCCESS", done
    assert done["result"] == {
        "getVariableResult": [
            {
                "attributeStatus": "Accepted",
                "attributeValue": "300",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "OfflineThreshold"},
            }
        ]
    }
    # GetVariables does not say whether a variable is read-only.
    assert keys["OCPPCommCtrlr.OfflineThreshold"]["value"] == "300"
    assert keys["OCPPCommCtrlr.OfflineThreshold"]["readonly"] is None


async def test_tc_b_07_get_variables_multiple_values(
    shared_server: Server, op: Operator, sims: Simulators
) -> None:
    """Several at once, one of an EVSE, and what the station does not have: each has its own
    status; the command succeeds with all of them."""
    charger = await op.add_charger()
    sim = await online(sims, shared_server, charger, ocpp_version="2.0.1")
    asked = [
        "OCPPCommCtrlr.OfflineThreshold",
        "AuthCtrlr.AuthorizeRemoteStart",
        "EVSE@1.Power",
        "OCPPCommCtrlr.NoSuchVariable",
        "NoSuchCtrlr.Enabled",
    ]
    async with op.client() as client:
        await probed(client, charger.charge_point_id, "SmartChargingCtrlr.Enabled")
        done = await command(client, charger.charge_point_id, "get_configuration", keys=asked)
        keys = await cached(client, charger.charge_point_id)
    sent = sim.requests("GetVariables")[-1]["getVariableData"]
    assert sent[2] == {
        "component": {"name": "EVSE", "evse": {"id": 1}},
        "variable": {"name": "Power"},
    }
    assert done["status"] == "SUCCESS", done
    statuses = [entry["attributeStatus"] for entry in done["result"]["getVariableResult"]]
    assert statuses == ["Accepted", "Accepted", "Accepted", "UnknownVariable", "UnknownComponent"]
    assert values(keys) == {
        "AuthCtrlr.AuthorizeRemoteStart": ("true", None),
        "EVSE@1.Power": ("7200", None),
        "OCPPCommCtrlr.OfflineThreshold": ("300", None),
        "SmartChargingCtrlr.Enabled": ("false", None),
    }


async def test_tc_b_09_set_variables(shared_server: Server, op: Operator, sims: Simulators) -> None:
    """One value (TC_B_09), several (TC_B_10) with a RebootRequired among them, and a change
    partly refused: it fails naming what was not set, and what was set is cached."""
    charger = await op.add_charger()
    sim = await online(sims, shared_server, charger, ocpp_version="2.0.1")
    cpid = charger.charge_point_id
    async with op.client() as client:
        await probed(client, cpid, "SmartChargingCtrlr.Enabled")
        single = await command(
            client, cpid, "change_configuration", key="OCPPCommCtrlr.OfflineThreshold", value="120"
        )
        several = await command(
            client,
            cpid,
            "change_configuration",
            values={
                "AuthCtrlr.LocalAuthorizeOffline": "false",
                "OCPPCommCtrlr.NetworkConfigurationPriority": "1",
            },
        )
        partly = await command(
            client,
            cpid,
            "change_configuration",
            values={
                "OCPPCommCtrlr.HeartbeatInterval": "30",
                "DeviceDataCtrlr.ItemsPerMessage": "5",
                "NoSuchCtrlr.Enabled": "true",
            },
        )
        keys = await cached(client, cpid)
    assert sim.requests("SetVariables")[0] == {
        "setVariableData": [
            {
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "OfflineThreshold"},
                "attributeValue": "120",
            }
        ]
    }
    assert single["status"] == "SUCCESS", single
    assert [e["attributeStatus"] for e in single["result"]["setVariableResult"]] == ["Accepted"]
    assert several["status"] == "SUCCESS", several
    assert [e["attributeStatus"] for e in several["result"]["setVariableResult"]] == [
        "Accepted",
        "RebootRequired",
    ]
    assert partly["status"] == "FAILURE", partly
    assert partly["reason"] == (
        "The charger did not set DeviceDataCtrlr.ItemsPerMessage (Rejected), "
        "NoSuchCtrlr.Enabled (UnknownComponent)"
    )
    assert values(keys) == {
        "AuthCtrlr.LocalAuthorizeOffline": ("false", False),
        "OCPPCommCtrlr.HeartbeatInterval": ("30", False),
        "OCPPCommCtrlr.NetworkConfigurationPriority": ("1", False),
        "OCPPCommCtrlr.OfflineThreshold": ("120", False),
        "SmartChargingCtrlr.Enabled": ("false", None),
    }


async def test_get_base_report_full_inventory(
    shared_server: Server, op: Operator, sims: Simulators
) -> None:
    """GetBaseReport (TC_B_12/13 from the CSMS side): the station answers Accepted, then reports
    in NotifyReport parts; the queue item succeeds only with the last one, its result the whole
    report, and the cache becomes exactly what was reported."""
    charger = await op.add_charger()
    sim = await online(sims, shared_server, charger, ocpp_version="2.0.1", report_part_size=2)
    async with op.client() as client:
        await probed(client, charger.charge_point_id, "SmartChargingCtrlr.Enabled")
        done = await command(client, charger.charge_point_id, "get_configuration")
        keys = await cached(client, charger.charge_point_id)
    [request] = sim.requests("GetBaseReport")
    assert request["reportBase"] == "FullInventory"
    parts = [call for action, call, _ in sim.answered if action == "NotifyReport"]
    assert [(part["seqNo"], part["tbc"]) for part in parts] == [
        (0, True),
        (1, True),
        (2, True),
        (3, True),
        (4, False),
    ]
    assert {part["requestId"] for part in parts} == {request["requestId"]}
    assert done["status"] == "SUCCESS", done
    assert done["result"] == {
        "status": "Accepted",
        "reportData": [item for part in parts for item in part["reportData"]],
    }
    assert len(keys) == 10
    assert keys["EVSE@1.Power"]["value"] == "7200"
    assert keys["EVSE@1.Power"]["readonly"] is True
    assert values(keys)["OCPPCommCtrlr.HeartbeatInterval"] == ("60", False)
    assert all(entry["readonly"] is not None for entry in keys.values())


async def test_a_report_that_stops_coming_fails(server: Server, sims: Simulators) -> None:
    """A station that sends the first part and no more: the queue item fails once no part has
    come for the command timeout (3 s here), and the cache keeps what it had."""
    operator = await server.operator()
    charger = await operator.add_charger()
    sim = await online(sims, server, charger, ocpp_version="2.0.1", report_parts_sent=1)
    async with operator.client() as client:
        await probed(client, charger.charge_point_id, "SmartChargingCtrlr.Enabled")
        done = await command(client, charger.charge_point_id, "get_configuration")
        keys = await cached(client, charger.charge_point_id)
    assert [action for action, _, _ in sim.answered].count("NotifyReport") == 1
    assert done["status"] == "FAILURE", done
    assert done["reason"] == "The charger's report stopped coming: no further part within 3 s"
    assert list(keys) == ["SmartChargingCtrlr.Enabled"]


# -- validation ---------------------------------------------------------------------------------

BAD = [
    ({"keys": []}, "keys must be a list of 1 to 100 keys"),
    ({"keys": "HeartbeatInterval"}, "keys must be a list"),
    ({"keys": [""]}, "A key must be a string of 1 to 255 characters"),
    ({"keys": ["K"], "key": "K"}, "Unknown param(s): key. get_configuration takes: keys"),
]
BAD_CHANGES = [
    ({"key": "HeartbeatInterval"}, "Missing param: key and value"),
    ({"key": "K", "value": 5}, "A value must be a string"),
    ({"key": "K", "value": "1", "values": {"K": "1"}}, "not both"),
    ({"values": {}}, "values must be an object of 1 to 100"),
    ({"key": "K", "value": "9" * 1001}, "A value must be a string of at most 1000 characters"),
]
# What each version refuses, once the charger has connected with it.
REFUSED = {
    "1.6": [
        (
            "get_configuration",
            {"keys": ["K" * 51]},
            "get_configuration on an OCPP 1.6 charger: key KKKKK",
        ),
        (
            "change_configuration",
            {"key": "HeartbeatInterval", "value": "9" * 501},
            "the value of HeartbeatInterval is over 500 characters",
        ),
        (
            "change_configuration",
            {"values": {"A": "1", "B": "2"}},
            "one key at a time (ChangeConfiguration takes one)",
        ),
    ],
    "2.0.1": [
        ("get_configuration", {"keys": ["HeartbeatInterval"]}, "key HeartbeatInterval names no"),
        # Component and variable names are CiString50.
        ("change_configuration", {"key": "C" * 51 + ".Enabled", "value": "1"}, "names no"),
    ],
}


async def test_bad_configuration_params(
    shared_server: Server, op: Operator, simulators: Simulators
) -> None:
    charger = await op.add_charger()
    sim = await online(simulators, shared_server, charger)
    cases = [
        *(("get_configuration", params, message) for params, message in BAD),
        *(("change_configuration", params, message) for params, message in BAD_CHANGES),
        *REFUSED[simulators.ocpp_version],
    ]
    async with op.client() as client:
        for action, params, message in cases:
            response = await client.post(
                f"/chargers/{charger.charge_point_id}/commands",
                json={"action": action, "params": params},
            )
            assert message in assert_error(response, 400), (action, params)
    assert sim.requests("ChangeConfiguration") == sim.requests("SetVariables") == []


async def test_the_configuration_of_an_unknown_charger(op: Operator) -> None:
    async with op.client() as client:
        unknown = await client.get("/chargers/NO-SUCH-CHARGER/configuration")
        bad = await client.get(f"/chargers/{'X' * 49}/configuration")
        odd = await client.get("/chargers/NO-SUCH-CHARGER/configuration", params={"page": "1"})
    assert "no charger NO-SUCH-CHARGER" in assert_error(unknown, 404)
    assert "charge point id" in assert_error(bad, 400)
    assert "page" in assert_error(odd, 400)


# -- the strict-schema charger ------------------------------------------------------------------


@pytest.mark.parametrize("dialect", [V16, V201], ids=["ocpp1.6", "ocpp2.0.1"])
async def test_configuration_with_an_independent_strict_charger(
    shared_server: Server, op: Operator, dialect: Dialect
) -> None:
    """ocpp-rpc validates each CALL and our NotifyReport answers against its own schemas: all
    keys (TC_019_1; 2.0.1 a base report, one NotifyReport per variable), some keys (TC_019_2,
    TC_B_07), a change taken (TC_021, TC_B_09) and one refused."""
    charger = await op.add_charger()
    cpid = charger.charge_point_id
    v16 = dialect is V16
    some = (
        ["HeartbeatInterval", "NoSuchKey"]
        if v16
        else ["OCPPCommCtrlr.OfflineThreshold", "NoSuchCtrlr.Enabled"]
    )
    writable, readonly = (
        ("MeterValueSampleInterval", "SupportedFeatureProfiles")
        if v16
        else ("OCPPCommCtrlr.OfflineThreshold", "SmartChargingCtrlr.Enabled")
    )
    async with running(NodeCharger(shared_server, charger, dialect)) as node:
        async with op.client() as client:
            everything = await command(client, cpid, "get_configuration")
            all_keys = await cached(client, cpid)
            asked = await command(client, cpid, "get_configuration", keys=some)
            changed = await command(client, cpid, "change_configuration", key=writable, value="60")
            refused = await command(client, cpid, "change_configuration", key=readonly, value="1")
            keys = await cached(client, cpid)
        assert [e for e in node.events if e.get("unexpected")] == []
    assert everything["status"] == asked["status"] == changed["status"] == "SUCCESS"
    assert refused["status"] == "FAILURE", refused
    assert keys[writable]["value"] == "60"
    if v16:
        assert set(all_keys) == {
            "HeartbeatInterval",
            "MeterValueSampleInterval",
            "SupportedFeatureProfiles",
        }
        assert asked["result"]["unknownKey"] == ["NoSuchKey"]
        assert refused["reason"] == "The charger rejected ChangeConfiguration (Rejected)"
    else:
        assert len(node.of("send", "NotifyReport")) == 1 + len(everything["result"]["reportData"])
        assert set(all_keys) == {
            "AuthCtrlr.AuthorizeRemoteStart",
            "OCPPCommCtrlr.HeartbeatInterval",
            "OCPPCommCtrlr.OfflineThreshold",
            "SmartChargingCtrlr.Enabled",
        }
        statuses = [e["attributeStatus"] for e in asked["result"]["getVariableResult"]]
        assert statuses == ["Accepted", "UnknownComponent"]
        assert refused["reason"] == "The charger did not set SmartChargingCtrlr.Enabled (Rejected)"

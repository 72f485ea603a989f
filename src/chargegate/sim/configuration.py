"""How the simulated charger reads and changes its configuration, as real chargers do: 1.6
GetConfiguration (unknownKey for keys it lacks) and ChangeConfiguration (read-only keys
Rejected, unknown ones NotSupported, bad values Rejected, some RebootRequired); 2.0.1
GetVariables, SetVariables with a status per variable, and GetBaseReport, answered Accepted and
then reported in several NotifyReport parts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from chargegate.ocpp.rpc import Handler, Payload

if TYPE_CHECKING:
    from chargegate.sim.charger import SimulatedCharger


@dataclass(slots=True)
class Setting:
    value: str | None
    readonly: bool = False
    # A change takes effect at the next reboot (RebootRequired).
    reboot: bool = False
    # Values it takes: whole numbers only (others are Rejected).
    numeric: bool = False


def keys_16() -> dict[str, Setting]:
    """A 1.6 charger's own keys (those of its profiles come from its state: configuration_16)."""
    return {
        "HeartbeatInterval": Setting("60", numeric=True),
        "MeterValueSampleInterval": Setting("10", numeric=True),
        "ConnectionTimeOut": Setting("60", numeric=True),
        "NumberOfConnectors": Setting("1", readonly=True),
        "AuthorizeRemoteTxRequests": Setting("false"),
        "WebSocketPingInterval": Setting("30", reboot=True, numeric=True),
    }


# A 2.0.1 variable: component, EVSE (None: the station's), variable, attribute type.
Variable = tuple[str, int | None, str, str]


def variables_201() -> dict[Variable, Setting]:
    """A 2.0.1 station's own variables (its controllers' state: device_model_201)."""
    return {
        ("OCPPCommCtrlr", None, "HeartbeatInterval", "Actual"): Setting("60", numeric=True),
        ("OCPPCommCtrlr", None, "OfflineThreshold", "Actual"): Setting("300", numeric=True),
        ("OCPPCommCtrlr", None, "NetworkConfigurationPriority", "Actual"): Setting(
            "0", reboot=True
        ),
        ("SampledDataCtrlr", None, "TxUpdatedInterval", "Actual"): Setting("10", numeric=True),
        ("AuthCtrlr", None, "AuthorizeRemoteStart", "Actual"): Setting("true"),
        ("AuthCtrlr", None, "LocalAuthorizeOffline", "Actual"): Setting("true"),
        ("DeviceDataCtrlr", None, "ItemsPerMessage", "Actual"): Setting("50", readonly=True),
        ("SecurityCtrlr", None, "SecurityProfile", "Actual"): Setting("1", readonly=True),
        ("EVSE", 1, "Power", "Actual"): Setting("7200", readonly=True),
    }


def configuration_16(sim: SimulatedCharger) -> dict[str, Setting]:
    """Its 1.6 keys: the profiles and local-list ones (read-only) follow its state."""
    profiles = ["Core"]
    if sim.smart_charging:
        profiles.append("SmartCharging")
    keys = {}
    held = sim.local_list
    if held is not None:
        profiles.append("LocalAuthListManagement")
        keys["LocalAuthListEnabled"] = Setting(str(held.enabled).lower(), readonly=True)
        if held.per_message is not None:
            keys["SendLocalListMaxLength"] = Setting(str(held.per_message), readonly=True)
        if held.capacity is not None:
            keys["LocalAuthListMaxLength"] = Setting(str(held.capacity), readonly=True)
    state = {"SupportedFeatureProfiles": Setting(",".join(profiles), readonly=True), **keys}
    return {**state, **sim.settings_16}


def device_model_201(sim: SimulatedCharger) -> dict[Variable, Setting]:
    """Its 2.0.1 variables: smart charging and the local list's controller follow its state."""
    held = sim.local_list
    state: dict[Variable, Setting] = {
        ("SmartChargingCtrlr", None, "Enabled", "Actual"): Setting(
            str(sim.smart_charging).lower(), readonly=True
        )
    }
    if held is not None:
        lists = "LocalAuthListCtrlr"
        state[(lists, None, "Enabled", "Actual")] = Setting(str(held.enabled).lower(), True)
        state[(lists, None, "ItemsPerMessage", "Actual")] = Setting(
            None if held.per_message is None else str(held.per_message), True
        )
        state[(lists, None, "Entries", "Actual")] = Setting(str(len(held.entries)), True)
        state[(lists, None, "Entries", "MaxSet")] = Setting(
            None if held.capacity is None else str(held.capacity), True
        )
    return {**state, **sim.settings_201}


def _taken(setting: Setting, value: str) -> bool:
    return not setting.readonly and (not setting.numeric or value.isdigit())


def handlers(sim: SimulatedCharger) -> dict[str, Handler]:
    async def get_configuration(payload: Payload) -> Payload:
        sim.received.append(("GetConfiguration", payload))
        held = configuration_16(sim)
        asked = payload.get("key") or list(held)
        answer: Payload = {
            "configurationKey": [
                {"key": key, "readonly": held[key].readonly, "value": held[key].value}
                for key in asked
                if key in held
            ]
        }
        unknown = [key for key in asked if key not in held]
        if unknown:
            answer["unknownKey"] = unknown
        return answer

    async def change_configuration(payload: Payload) -> Payload:
        sim.received.append(("ChangeConfiguration", payload))
        await sim.notify()
        key, value = payload["key"], payload["value"]
        setting = configuration_16(sim).get(key)
        if setting is None:
            return {"status": "NotSupported"}
        if not _taken(setting, value):
            return {"status": "Rejected"}
        sim.settings_16[key].value = value
        return {"status": "RebootRequired" if setting.reboot else "Accepted"}

    async def get_variables(payload: Payload) -> Payload:
        sim.received.append(("GetVariables", payload))
        model = device_model_201(sim)
        return {"getVariableResult": [_get(model, item) for item in payload["getVariableData"]]}

    async def set_variables(payload: Payload) -> Payload:
        sim.received.append(("SetVariables", payload))
        await sim.notify()
        return {"setVariableResult": [_set(sim, item) for item in payload["setVariableData"]]}

    async def get_base_report(payload: Payload) -> Payload:
        sim.received.append(("GetBaseReport", payload))
        await sim.notify()
        if payload["reportBase"] != "FullInventory":
            return {"status": "NotSupported"}
        sim.spawn(_report(sim, payload["requestId"]))
        return {"status": "Accepted"}

    if sim.dialect.subprotocol == "ocpp1.6":
        return {
            "GetConfiguration": get_configuration,
            "ChangeConfiguration": change_configuration,
        }
    return {
        "GetVariables": get_variables,
        "SetVariables": set_variables,
        "GetBaseReport": get_base_report,
    }


def _named(item: Payload) -> tuple[str, int | None, str, str]:
    component = item["component"]
    evse = component.get("evse", {}).get("id")
    return component["name"], evse, item["variable"]["name"], item.get("attributeType", "Actual")


def _result(item: Payload, status: str) -> Payload:
    result: Payload = {"component": item["component"], "variable": item["variable"]}
    if "attributeType" in item:
        result["attributeType"] = item["attributeType"]
    return {**result, "attributeStatus": status}


def _status(model: dict[Variable, Setting], item: Payload) -> tuple[str, Setting | None]:
    named = _named(item)
    if not any(key[:2] == named[:2] for key in model):
        return "UnknownComponent", None
    setting = model.get(named)
    if setting is None:
        return "UnknownVariable", None
    return "Accepted", setting


def _get(model: dict[Variable, Setting], item: Payload) -> Payload:
    status, setting = _status(model, item)
    if setting is None or setting.value is None:
        return _result(item, "UnknownVariable" if status == "Accepted" else status)
    return {**_result(item, status), "attributeValue": setting.value}


def _set(sim: SimulatedCharger, item: Payload) -> Payload:
    status, setting = _status(device_model_201(sim), item)
    if setting is None:
        return _result(item, status)
    if not _taken(setting, item["attributeValue"]):
        return _result(item, "Rejected")
    sim.settings_201[_named(item)].value = item["attributeValue"]
    return _result(item, "RebootRequired" if setting.reboot else "Accepted")


async def _report(sim: SimulatedCharger, request_id: int) -> None:
    """Its whole device model in NotifyReport parts of `report_part_size` variables; with
    `report_parts_sent` set, it stops after that many (a station that lost the rest)."""
    by_variable: dict[tuple[str, int | None, str], list[Payload]] = {}
    for (component, evse, name, attribute), setting in device_model_201(sim).items():
        if setting.value is None:
            continue
        by_variable.setdefault((component, evse, name), []).append(
            {
                "type": attribute,
                "value": setting.value,
                "mutability": "ReadOnly" if setting.readonly else "ReadWrite",
            }
        )
    report = [
        {
            "component": {"name": component, **({} if evse is None else {"evse": {"id": evse}})},
            "variable": {"name": name},
            "variableAttribute": attributes,
            "variableCharacteristics": {"dataType": "string", "supportsMonitoring": False},
        }
        for (component, evse, name), attributes in by_variable.items()
    ]
    size = sim.report_part_size
    parts = [report[start : start + size] for start in range(0, len(report), size)]
    generated = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for seq_no, part in enumerate(parts[: sim.report_parts_sent]):
        message = {
            "requestId": request_id,
            "generatedAt": generated,
            "seqNo": seq_no,
            "tbc": seq_no < len(parts) - 1,
            "reportData": part,
        }
        await sim.enqueue(("NotifyReport", message), durable=False).done

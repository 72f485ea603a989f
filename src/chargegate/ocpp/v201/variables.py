"""Configuration in OCPP 2.0.1 words: device-model variables read (GetVariables, or all of them
by GetBaseReport and its NotifyReport parts) and set (SetVariables), each named by its key
(domain.configuration)."""

from __future__ import annotations

from ocpp.v201.enums import (
    Action,
    AttributeEnumType,
    GenericDeviceModelStatusEnumType,
    GetVariableStatusEnumType,
    MutabilityEnumType,
    ReportBaseEnumType,
    SetVariableStatusEnumType,
)

from chargegate.domain.configuration import (
    ChangeConfigurationParams,
    ConfigEntry,
    ConfigRead,
    GetConfigurationParams,
    VariableKey,
    variable_key,
)
from chargegate.ocpp.common import rejected
from chargegate.ocpp.rpc import Payload
from chargegate.services.commands import Reply

UNKNOWN = (GetVariableStatusEnumType.unknown_component, GetVariableStatusEnumType.unknown_variable)
# Set: RebootRequired says the new value takes effect at the next reboot.
TAKEN = (SetVariableStatusEnumType.accepted, SetVariableStatusEnumType.reboot_required)


def get_call(params: GetConfigurationParams, request_id: int) -> tuple[str, Payload]:
    if params.keys is None:
        # All of it: the station answers Accepted, then reports in NotifyReport parts.
        return Action.get_base_report, {
            "requestId": request_id,
            "reportBase": ReportBaseEnumType.full_inventory,
        }
    return Action.get_variables, {"getVariableData": [_address(key) for key in params.keys]}


def change_call(params: ChangeConfigurationParams) -> tuple[str, Payload]:
    return Action.set_variables, {
        "setVariableData": [
            {**_address(key), "attributeValue": value} for key, value in params.values.items()
        ]
    }


def _address(key: str) -> Payload:
    """The component and variable a key names (checked when the command came in)."""
    address = variable_key(key)
    if address is None:
        raise ValueError(f"{key!r} names no variable")
    component: Payload = {"name": address.component}
    if address.component_instance is not None:
        component["instance"] = address.component_instance
    if address.evse is not None:
        component["evse"] = {"id": address.evse}
        if address.connector is not None:
            component["evse"]["connectorId"] = address.connector
    variable: Payload = {"name": address.variable}
    if address.variable_instance is not None:
        variable["instance"] = address.variable_instance
    return {"component": component, "variable": variable}


def key_of(entry: Payload) -> str:
    """The key of the variable a result or report entry names."""
    component, variable = entry["component"], entry["variable"]
    evse = component.get("evse", {})
    return VariableKey(
        component=component["name"],
        variable=variable["name"],
        component_instance=component.get("instance"),
        evse=evse.get("id"),
        connector=evse.get("connectorId"),
        variable_instance=variable.get("instance"),
    ).text


def _actual(entry: Payload) -> bool:
    return bool(entry.get("attributeType", AttributeEnumType.actual) == AttributeEnumType.actual)


def read(result: Payload) -> ConfigRead:
    """A GetVariables answer: the Actual values read, and the variables the station lacks."""
    results = result.get("getVariableResult", [])
    return ConfigRead(
        entries=tuple(
            ConfigEntry(key=key_of(entry), value=entry.get("attributeValue"), readonly=None)
            for entry in results
            if entry["attributeStatus"] == GetVariableStatusEnumType.accepted and _actual(entry)
        ),
        unknown=tuple(key_of(entry) for entry in results if entry["attributeStatus"] in UNKNOWN),
    )


def read_reply(result: Payload) -> Reply:
    """Each variable has its own status; the command succeeds with all of them."""
    configuration = read(result)
    asked = len(result.get("getVariableResult", []))
    return Reply(
        accepted=True,
        detail=f"{Action.get_variables}: {len(configuration.entries)} of {asked} read",
        configuration=configuration,
    )


def report_reply(result: Payload) -> Reply:
    status = result.get("status")
    if status == GenericDeviceModelStatusEnumType.accepted:
        return Reply(
            accepted=True, detail=f"{Action.get_base_report}: {status}", report_coming=True
        )
    if status == GenericDeviceModelStatusEnumType.empty_result_set:
        return Reply(
            accepted=True,
            detail=f"{Action.get_base_report}: {status}",
            configuration=ConfigRead(()),
        )
    return Reply(accepted=False, detail=rejected(Action.get_base_report, status))


def change_reply(result: Payload) -> Reply:
    """SetVariables: the command succeeds if every variable was set."""
    results = result.get("setVariableResult", [])
    refused = [entry for entry in results if entry["attributeStatus"] not in TAKEN]
    keys = tuple(key_of(entry) for entry in refused)
    if not refused:
        statuses = ", ".join(sorted({entry["attributeStatus"] for entry in results}))
        return Reply(accepted=True, detail=f"{Action.set_variables}: {statuses}", refused_keys=())
    said = ", ".join(
        f"{key} ({e['attributeStatus']})" for key, e in zip(keys, refused, strict=True)
    )
    return Reply(
        accepted=False,
        detail=f"The charger did not set {said}",
        refused_keys=keys,
    )


def report_entries(report_data: list[Payload]) -> tuple[ConfigEntry, ...]:
    """A NotifyReport part's variables: their Actual value, and whether it is read-only."""
    entries = []
    for item in report_data:
        for attribute in item.get("variableAttribute", []):
            if attribute.get("type", AttributeEnumType.actual) != AttributeEnumType.actual:
                continue
            mutability = attribute.get("mutability", MutabilityEnumType.read_write)
            entries.append(
                ConfigEntry(
                    key=key_of(item),
                    value=attribute.get("value"),
                    readonly=mutability == MutabilityEnumType.read_only,
                )
            )
    return tuple(entries)

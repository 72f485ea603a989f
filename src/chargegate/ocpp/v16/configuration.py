"""Configuration keys in OCPP 1.6 words: GetConfiguration and ChangeConfiguration."""

from __future__ import annotations

from ocpp.v16.enums import Action, ConfigurationStatus

from chargegate.domain.configuration import (
    ChangeConfigurationParams,
    ConfigEntry,
    ConfigRead,
    GetConfigurationParams,
)
from chargegate.ocpp.common import rejected
from chargegate.ocpp.rpc import Payload
from chargegate.services.commands import Reply

# Set: RebootRequired says the new value takes effect at the next reboot.
TAKEN = (ConfigurationStatus.accepted, ConfigurationStatus.reboot_required)


def get_call(params: GetConfigurationParams) -> tuple[str, Payload]:
    # Without keys the charger answers with all of them.
    return Action.get_configuration, {} if params.keys is None else {"key": list(params.keys)}


def change_call(params: ChangeConfigurationParams) -> tuple[str, Payload]:
    [(key, value)] = params.values.items()
    return Action.change_configuration, {"key": key, "value": value}


def read(result: Payload) -> ConfigRead:
    return ConfigRead(
        entries=tuple(
            ConfigEntry(key=str(entry["key"]), value=entry.get("value"), readonly=entry["readonly"])
            for entry in result.get("configurationKey", [])
        ),
        unknown=tuple(result.get("unknownKey", [])),
    )


def read_reply(result: Payload) -> Reply:
    configuration = read(result)
    return Reply(
        accepted=True,
        detail=f"{Action.get_configuration}: {len(configuration.entries)} keys read",
        configuration=configuration,
    )


def change_reply(result: Payload) -> Reply:
    status = result.get("status")
    if status in TAKEN:
        return Reply(accepted=True, detail=f"{Action.change_configuration}: {status}")
    return Reply(accepted=False, detail=rejected(Action.change_configuration, status))

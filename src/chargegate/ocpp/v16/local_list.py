"""Local authorization lists in OCPP 1.6: what a charger's configuration says about its list,
and SendLocalList worded for it."""

from __future__ import annotations

from collections.abc import Mapping

from ocpp.v16.enums import ConfigurationKey, UpdateType

from chargegate.domain.local_lists import Capabilities, Message
from chargegate.ocpp.local_lists import Wording
from chargegate.ocpp.rpc import Payload
from chargegate.ocpp.v16.id_tag_info import id_tag_info

PROFILE = "LocalAuthListManagement"
KEYS = (
    ConfigurationKey.local_auth_list_enabled,
    ConfigurationKey.send_local_list_max_length,
    ConfigurationKey.local_auth_list_max_length,
)


def capabilities(profiles: set[str], config: Mapping[str, str]) -> Capabilities:
    """A list needs the feature profile, and LocalAuthListEnabled not false (a charger that
    does not report the key has it on: it is required of the profile)."""
    enabled = config.get(ConfigurationKey.local_auth_list_enabled, "true").lower() != "false"
    return Capabilities(
        supported=PROFILE in profiles and enabled,
        per_message=_count(config.get(ConfigurationKey.send_local_list_max_length)),
        capacity=_count(config.get(ConfigurationKey.local_auth_list_max_length)),
    )


def _count(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


def _message(message: Message) -> Payload:
    payload: Payload = {
        "listVersion": message.version,
        "updateType": UpdateType.full if message.full else UpdateType.differential,
    }
    entries = []
    for entry in message.entries:
        item: Payload = {"idTag": entry.id_tag}
        if entry.authorization is not None:
            item["idTagInfo"] = id_tag_info(entry.authorization)
        entries.append(item)
    if entries:
        payload["localAuthorizationList"] = entries
    return payload


WORDING = Wording(version_of=lambda result: int(result["listVersion"]), message=_message)

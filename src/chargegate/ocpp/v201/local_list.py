"""Local authorization lists in OCPP 2.0.1: what LocalAuthListCtrlr says about a station's
list, and SendLocalList worded for it."""

from __future__ import annotations

from collections.abc import Mapping

from ocpp.v201.enums import (
    AttributeEnumType,
    ControllerComponentName,
    LocalAuthListCtrlrVariableName,
    UpdateEnumType,
)

from chargegate.domain.local_lists import Capabilities, Message
from chargegate.ocpp.local_lists import Wording
from chargegate.ocpp.rpc import Payload
from chargegate.ocpp.v201.id_token_info import id_token_info

COMPONENT = ControllerComponentName.local_auth_list_ctrlr
# (variable, attribute): the list's size is the maximum its Entries variable may reach.
ENABLED = (LocalAuthListCtrlrVariableName.enabled, AttributeEnumType.actual)
PER_MESSAGE = (LocalAuthListCtrlrVariableName.items_per_message, AttributeEnumType.actual)
CAPACITY = (LocalAuthListCtrlrVariableName.entries, AttributeEnumType.max_set)
VARIABLES = (ENABLED, PER_MESSAGE, CAPACITY)


def capabilities(values: Mapping[tuple[str, str], str]) -> Capabilities:
    """Values by (variable, attribute), of those the station accepted to tell."""
    return Capabilities(
        supported=values.get(ENABLED, "").lower() == "true",
        per_message=_count(values.get(PER_MESSAGE)),
        capacity=_count(values.get(CAPACITY)),
    )


def _count(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


def _message(message: Message) -> Payload:
    payload: Payload = {
        "versionNumber": message.version,
        "updateType": UpdateEnumType.full if message.full else UpdateEnumType.differential,
    }
    entries = []
    for entry in message.entries:
        item: Payload = {"idToken": {"idToken": entry.id_tag, "type": entry.type.value}}
        if entry.authorization is not None:
            item.update(id_token_info(entry.authorization))
        entries.append(item)
    # An empty list is left out: the schema wants at least one entry when there is a list.
    if entries:
        payload["localAuthorizationList"] = entries
    return payload


WORDING = Wording(version_of=lambda result: int(result["versionNumber"]), message=_message)

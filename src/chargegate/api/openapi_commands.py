"""The OpenAPI description of POST /1.2/chargers/<charge_point_id>/commands: each action and
its params (see api/openapi.py for the why)."""

from __future__ import annotations

from typing import Any, assert_never

from chargegate.api.openapi import IDEMPOTENCY_KEY, Doc, _body, _json, _ref, _replayable, responses
from chargegate.api.openapi_schemas import COMMAND_NAME, STG, UTC_TIME
from chargegate.domain.command_params import (
    MESSAGE_ID_MAX,
    TRIGGERS_16,
    TRIGGERS_201,
    VENDOR_ID_MAX,
    ResetKind,
)
from chargegate.domain.states import ChargerAction

_NO_PARAMS: dict[str, Any] = {"type": "object", "maxProperties": 0}
_PORT = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


def _text(longest: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": longest}


def _optional(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional param, which may also be sent as null."""
    return {**schema, "type": [schema["type"], "null"]}


def params_schema(action: ChargerAction) -> dict[str, Any]:
    """The `params` an action takes."""
    match action:
        case (
            ChargerAction.CLEAR_CACHE
            | ChargerAction.GET_LOCAL_LIST_VERSION
            | ChargerAction.SEND_LOCAL_LIST
        ):
            return _NO_PARAMS
        case ChargerAction.RESET:
            return _params(
                {
                    "type": {
                        "type": "string",
                        "enum": [kind.value for kind in ResetKind],
                        "description": "OCPP 1.6: soft or hard; 2.0.1: immediate or on_idle",
                    },
                    "evse": _optional(
                        {**_PORT, "description": "2.0.1 only: this EVSE, not the whole station"}
                    ),
                },
                ["type"],
            )
        case ChargerAction.UNLOCK_CONNECTOR:
            return _params({"port": _PORT}, ["port"])
        case ChargerAction.CHANGE_AVAILABILITY:
            whole = {**_PORT, "minimum": 0, "description": "The port; 0 or absent: the charger"}
            return _params(
                {"port": _optional(whole), "operative": {"type": "boolean"}}, ["operative"]
            )
        case ChargerAction.TRIGGER_MESSAGE:
            message = {
                "type": "string",
                "enum": sorted(TRIGGERS_16 | TRIGGERS_201),
                "description": "A message the charger's OCPP version has (README)",
            }
            return _params({"message": message, "port": _optional(_PORT)}, ["message"])
        case ChargerAction.DATA_TRANSFER:
            return _params(
                {
                    "vendor_id": _text(VENDOR_ID_MAX),
                    "message_id": _optional(_text(MESSAGE_ID_MAX)),
                    "data": {"description": "Any JSON in 2.0.1; text in 1.6"},
                },
                ["vendor_id"],
            )
        case _:
            assert_never(action)


ACTIONS = (
    "clear_cache, get_local_list_version, send_local_list (no params); reset {type: soft|hard "
    "(1.6), immediate|on_idle (2.0.1), evse?}; unlock_connector {port}; change_availability "
    "{operative, port?}; trigger_message {message, port?}; data_transfer {vendor_id, "
    "message_id?, data?}. reset and data_transfer are not resent after a crash."
)


def _params(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _any_params() -> dict[str, Any]:
    """What `params` may hold, whichever the action (which one takes which: ACTIONS): one
    object rather than a choice of them, which fuzzers and generators handle far better. A
    param that actions type differently is left untyped here."""
    properties: dict[str, Any] = {}
    for action in ChargerAction:
        for name, schema in params_schema(action).get("properties", {}).items():
            same = properties.setdefault(name, schema) == schema
            if not same:
                properties[name] = {"description": "Typed per action (see the description)"}
    return {
        "type": ["object", "null"],
        "properties": properties,
        "additionalProperties": False,
        "description": "The action's parameters",
    }


COMMAND = Doc(
    responses=responses(
        {202: _replayable(_json(_ref("StopAccepted"), "Command queued: follow the queue item"))},
        404,
        409,
        422,
    ),
    extra={
        "description": "Sends a command to one of this key's chargers. One for an offline "
        "charger waits for it until its expires (else CHARGEGATE_COMMAND_TIMEOUT_S), then "
        "fails; so does one not answered by then. On success the queue item's result is the "
        "charger's answer. Actions and their params: " + ACTIONS,
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": _body(
            {
                "action": COMMAND_NAME,
                "command": {
                    **COMMAND_NAME,
                    "deprecated": True,
                    "description": "Old name of action",
                },
                "params": _any_params(),
                "stg": STG,
                "expires": {
                    **UTC_TIME,
                    "type": ["string", "null"],
                    "description": "Until when it may wait for an offline charger",
                },
            },
            [],
            # The action under either name, not both.
            oneOf=[{"required": ["action"]}, {"required": ["command"]}],
        ),
    },
)

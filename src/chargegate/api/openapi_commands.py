"""The OpenAPI description of POST /1.2/chargers/<charge_point_id>/commands: each action and
its params (see api/openapi.py for the why)."""

from __future__ import annotations

from typing import Any, assert_never

from chargegate.api.openapi import IDEMPOTENCY_KEY, Doc, _body, _json, _ref, _replayable, responses
from chargegate.api.openapi_schemas import COMMAND_NAME, STG, UTC_TIME
from chargegate.domain.command_params import ResetKind
from chargegate.domain.configuration import KEY_MAX, KEYS_MAX, VALUE_MAX_201
from chargegate.domain.states import ChargerAction

_NO_PARAMS: dict[str, Any] = {"type": "object", "maxProperties": 0}
# A configuration key: 1.6 its name, 2.0.1 Component.Variable (domain.configuration).
_KEY: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": KEY_MAX}


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
                    "evse": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "2.0.1 only: reset this EVSE, not the whole station",
                    },
                },
                ["type"],
            )
        case ChargerAction.GET_CONFIGURATION:
            return _params(
                {
                    "keys": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": KEYS_MAX,
                        "items": _KEY,
                        "description": "The keys to read; leave it out to read all (2.0.1: a "
                        "full base report)",
                    }
                },
                [],
            )
        case ChargerAction.CHANGE_CONFIGURATION:
            return {
                "type": "object",
                "properties": {
                    "key": _KEY,
                    "value": {"type": "string", "maxLength": VALUE_MAX_201},
                    "values": {
                        "type": "object",
                        "minProperties": 1,
                        "maxProperties": KEYS_MAX,
                        "additionalProperties": {"type": "string", "maxLength": VALUE_MAX_201},
                        "description": "2.0.1: several variables in one SetVariables",
                    },
                },
                "oneOf": [{"required": ["key", "value"]}, {"required": ["values"]}],
                "additionalProperties": False,
                "description": "1.6: key CiString50, value CiString500 (one key); 2.0.1: keys "
                "as Component.Variable, values of up to 1000 characters",
            }
        case _:
            assert_never(action)


def _params(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _distinct_params() -> list[dict[str, Any]]:
    distinct: list[dict[str, Any]] = []
    for action in ChargerAction:
        schema = params_schema(action)
        if schema not in distinct:
            distinct.append(schema)
    return distinct


COMMAND = Doc(
    responses=responses(
        {202: _replayable(_json(_ref("StopAccepted"), "Command queued: follow the queue item"))},
        404,
        409,
        422,
    ),
    extra={
        "description": "Sends a command to one of this key's chargers. An offline charger's "
        "queue item fails at once; one that does not answer in CHARGEGATE_COMMAND_TIMEOUT_S "
        "fails then. On success the queue item's result is the charger's answer.",
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": _body(
            {
                "action": COMMAND_NAME,
                "command": {
                    **COMMAND_NAME,
                    "deprecated": True,
                    "description": "Old name of action",
                },
                "params": {
                    "description": "The action's parameters (see the README for each)",
                    "anyOf": _distinct_params(),
                },
                "stg": STG,
                "expires": {
                    **UTC_TIME,
                    "description": "Until when it may wait for an offline charger",
                },
            },
            [],
            # The action under either name, not both.
            oneOf=[{"required": ["action"]}, {"required": ["command"]}],
        ),
    },
)

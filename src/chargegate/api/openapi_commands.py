"""The OpenAPI description of POST /1.2/chargers/<charge_point_id>/commands: each action and
its params (see api/openapi.py for the why)."""

from __future__ import annotations

from typing import Any, assert_never

from chargegate.api import openapi_profiles
from chargegate.api.openapi import IDEMPOTENCY_KEY, Doc, _body, _json, _ref, _replayable, responses
from chargegate.api.openapi_schemas import COMMAND_NAME, STG, UTC_TIME
from chargegate.domain import file_transfers
from chargegate.domain.command_params import (
    MESSAGE_ID_MAX,
    TRIGGERS_16,
    TRIGGERS_201,
    VENDOR_ID_MAX,
    ResetKind,
)
from chargegate.domain.configuration import KEY_MAX, KEYS_MAX, VALUE_MAX_201
from chargegate.domain.states import ChargerAction

_NO_PARAMS: dict[str, Any] = {"type": "object", "maxProperties": 0}
_PORT = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


def _text(longest: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": longest}


def _optional(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional param, which may also be sent as null."""
    return {**schema, "type": [schema["type"], "null"]}


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
                    "evse": _optional(
                        {**_PORT, "description": "2.0.1 only: this EVSE, not the whole station"}
                    ),
                },
                ["type"],
            )
        case ChargerAction.UPDATE_FIRMWARE:
            return _params(
                {
                    **_TRANSFER,
                    "retrieve_date": {
                        **UTC_TIME,
                        "description": "When the charger is to download it (default: at once)",
                    },
                    "signing_certificate": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": file_transfers.SIGNING_CERTIFICATE_MAX,
                        "description": "2.0.1 only: the PEM certificate that signed the firmware",
                    },
                    "signature": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": file_transfers.SIGNATURE_MAX,
                        "description": "2.0.1 only: the firmware's signature, base64",
                    },
                },
                ["location"],
            )
        case ChargerAction.GET_DIAGNOSTICS:
            return _params(
                {
                    **_TRANSFER,
                    "start_time": {**UTC_TIME, "description": "Oldest log entries wanted"},
                    "stop_time": {**UTC_TIME, "description": "Newest log entries wanted"},
                },
                ["location"],
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
        case ChargerAction.SET_CHARGING_PROFILE:
            return openapi_profiles.SET_PROFILE
        case ChargerAction.CLEAR_CHARGING_PROFILE:
            return openapi_profiles.CLEAR_PROFILE
        case ChargerAction.GET_COMPOSITE_SCHEDULE:
            return openapi_profiles.COMPOSITE
        case _:
            assert_never(action)


# What both file transfers take: where, and how hard the charger tries.
_TRANSFER: dict[str, Any] = {
    "location": {
        "type": "string",
        "format": "uri",
        "maxLength": file_transfers.LOCATION_MAX,
        "description": "Absolute ftp, ftps, http or https URL the charger downloads from "
        f"(update_firmware) or uploads to (get_diagnostics); at most "
        f"{file_transfers.LOCATION_201_MAX} characters for OCPP 2.0.1",
    },
    "retries": {"type": "integer", "minimum": 0, "description": "Tries after the first"},
    "retry_interval": {"type": "integer", "minimum": 0, "description": "Seconds between tries"},
}
ACTIONS = (
    "clear_cache, get_local_list_version, send_local_list (no params); reset {type: soft|hard "
    "(1.6), immediate|on_idle (2.0.1), evse?}; unlock_connector {port}; change_availability "
    "{operative, port?}; trigger_message {message, port?}; data_transfer {vendor_id, "
    "message_id?, data?}; update_firmware {location, retrieve_date?, retries?, "
    "retry_interval?, signing_certificate?, signature?}; get_diagnostics {location, "
    "start_time?, stop_time?, retries?, retry_interval?}; get_configuration {keys?}; "
    "change_configuration {key, value} (2.0.1 also {values}); set_charging_profile {purpose, "
    "unit, limit | periods, port?, stack_level?, profile_id?, kind?, recurrency?, "
    "start_schedule?, duration_s?, valid_from?, valid_to?, transaction_id?}; "
    "clear_charging_profile {profile_id?, port?, purpose?, stack_level?}; "
    "get_composite_schedule {duration_s, port?, unit?}. reset, data_transfer, "
    "update_firmware and get_diagnostics are not resent after a crash."
)


def _params(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _with_params(action: ChargerAction) -> dict[str, Any]:
    """A body naming `action`: the params it takes (required if some of them are)."""
    params = params_schema(action)
    return {
        "properties": {"action": {"const": action.value}, "params": params},
        "required": ["action", "params"] if params.get("required") else ["action"],
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
                "params": {
                    "description": "The action's parameters (see the README for each)",
                    "anyOf": [*_distinct_params(), {"type": "null"}],
                },
                "stg": STG,
                "expires": {
                    **UTC_TIME,
                    "type": ["string", "null"],
                    "description": "Until when it may wait for an offline charger",
                },
            },
            [],
            # Each action with its own params; or the action under its old name. Both names at
            # once match two of these, which oneOf refuses.
            oneOf=[*map(_with_params, ChargerAction), {"required": ["command"]}],
        ),
    },
)

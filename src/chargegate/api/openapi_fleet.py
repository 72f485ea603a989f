"""The OpenAPI description of /1.2/chargers and /1.2/webhooks (see api/openapi.py for the
why)."""

from __future__ import annotations

from typing import Any

from chargegate.api.openapi import (
    BODY_TOO,
    NEXT_CURSOR,
    PAGE_QUERY,
    STG_QUERY,
    Doc,
    _body,
    _json,
    _query,
)
from chargegate.api.openapi import responses as _responses
from chargegate.api.openapi_configuration import CONFIGURATION
from chargegate.api.openapi_file_transfers import FILE_TRANSFERS
from chargegate.api.openapi_schemas import SHOWN_TIME, UUID
from chargegate.domain.credentials import GENERATED_PASSWORD_PREFIX
from chargegate.domain.fleet import CONNECTORS_MAX, PASSWORD_MAX, URL_MAX, OcppVersion
from chargegate.domain.identity import CHARGE_POINT_ID_MAX

CHARGE_POINT_ID: dict[str, Any] = {
    "type": "string",
    "pattern": f"^[A-Za-z0-9*\\-_=+|@.]{{1,{CHARGE_POINT_ID_MAX}}}$",
    "description": "The charger's OCPP identity (the last part of the URL it connects to)",
    "example": "CP-0001",
}
_VERSION = {"type": ["string", "null"], "enum": [*OcppVersion, None]}
_PASSWORD = {
    "type": "string",
    "minLength": 1,
    "maxLength": PASSWORD_MAX,
    "pattern": f"^(?!{GENERATED_PASSWORD_PREFIX})[^\\u0000-\\u001f\\u007f]*$",
    "description": "Its HTTP Basic auth password (OCPP security profiles 1 and 2). May not "
    f"start with `{GENERATED_PASSWORD_PREFIX}`, the form of generated passwords, which are "
    "stored as SHA-256 rather than scrypt",
}
_TEXT = {"type": ["string", "null"]}
_PORT = {
    "type": "object",
    "required": ["port_uuid", "connector_id", "status"],
    "properties": {
        "port_uuid": UUID,
        "connector_id": {"type": "integer"},
        "status": {"type": ["string", "null"], "description": "Its last reported status"},
    },
    "additionalProperties": False,
}
_CHARGER_FIELDS: dict[str, Any] = {
    "charge_point_id": {"type": "string"},
    "online": {"type": "boolean", "description": "Whether it holds a connection to a node"},
    "node": {**_TEXT, "description": "The node that holds its connection"},
    "last_seen": SHOWN_TIME,
    "ocpp_version": {**_VERSION, "description": "The version its connection last negotiated"},
    "ocpp_version_registered": {
        **_VERSION,
        "description": "The version it is spoken to in when it offers several; null: newest",
    },
    "vendor": _TEXT,
    "model": _TEXT,
    "serial_number": {**_TEXT, "description": "From its last BootNotification"},
    "firmware_version": {**_TEXT, "description": "From its last BootNotification"},
    "feature_profiles": {
        "type": ["array", "null"],
        "items": {"type": "string"},
        "description": "OCPP 1.6 SupportedFeatureProfiles, asked after each boot; null: not "
        "known (and for 2.0.1)",
    },
    # As GET .../firmware shows them (one function formats both).
    **FILE_TRANSFERS["properties"],
    "disabled": {
        "type": "boolean",
        "description": "Refused at the handshake, and sent away when connected",
    },
    "created": SHOWN_TIME,
    "ports": {"type": "array", "items": _PORT, "description": "Its ports, by connector"},
}


def _object(fields: dict[str, Any], **once: dict[str, Any]) -> dict[str, Any]:
    """An answer with every field of `fields`; `once`: fields of the answer that made it."""
    return {
        "type": "object",
        "required": list(fields),
        "properties": {**fields, **once},
        "additionalProperties": False,
    }


def _listed(item: dict[str, Any], order: str, *parameters: Any) -> Doc:
    page = _json({"type": "array", "items": item}, order)
    return Doc(
        responses=responses({200: {**page, "headers": NEXT_CURSOR}}),
        extra={"description": BODY_TOO, "parameters": [*PAGE_QUERY, *parameters]},
    )


CHARGER = _object(_CHARGER_FIELDS)
# The answer that generated a password shows it (not required: a given one is not shown).
_WITH_PASSWORD = _object(
    _CHARGER_FIELDS,
    password={
        "type": "string",
        "description": f"The generated password, `{GENERATED_PASSWORD_PREFIX}` and 32 "
        "characters of A-Z a-z 0-9 - _: shown once (only its hash is kept)",
    },
)
_WEBHOOK_FIELDS: dict[str, Any] = {
    "id": {"type": "integer", "minimum": 1},
    "url": {"type": "string"},
    "created": SHOWN_TIME,
}
WEBHOOK = _object(_WEBHOOK_FIELDS)
_WEBHOOK_ADDED = {
    **_object(
        _WEBHOOK_FIELDS,
        secret={
            "type": "string",
            "description": "Signs every delivery (X-Chargegate-Signature): shown once",
        },
    ),
    "required": [*_WEBHOOK_FIELDS, "secret"],
}
_FLAG = {"type": "boolean"}


def responses(ok: dict[int, dict[str, Any]], *errors: int) -> dict[int | str, dict[str, Any]]:
    # 403: a `sessions` key (api/roles.py).
    return _responses(ok, 403, *errors)


CHARGER_CREATE = Doc(
    responses=responses({201: _json(_WITH_PASSWORD, "The charger, registered")}, 409),
    extra={
        "description": "Registers a charger and one port per connector (EVSE). Without a "
        "password one is generated and shown in this answer only. Charger ids are unique "
        "across operators: one taken by anyone is a 409.",
        "requestBody": _body(
            {
                "charge_point_id": CHARGE_POINT_ID,
                "connectors": {"type": "integer", "minimum": 1, "maximum": CONNECTORS_MAX},
                "ocpp_version": _VERSION,
                "password": {**_PASSWORD, "type": ["string", "null"]},
            },
            ["charge_point_id", "connectors"],
        ),
    },
)
CHARGER_LIST = _listed(
    CHARGER,
    "By charge_point_id",
    _query("online", _FLAG, "Only chargers connected now (true) or not (false)"),
    _query("disabled", _FLAG, "Only disabled chargers (true) or enabled ones (false)"),
)
_ONE_CHARGER = _object(
    {
        **_CHARGER_FIELDS,
        "configuration": {
            **CONFIGURATION["properties"]["keys"],
            "description": "Its configuration as last read (after each boot, and by "
            "get_configuration / change_configuration commands)",
        },
    }
)
CHARGER_GET = Doc(responses=responses({200: _json(_ONE_CHARGER, "The charger")}, 404))
CHARGER_PATCH = Doc(
    responses=responses({200: _json(_WITH_PASSWORD, "The charger, changed")}, 404, 409),
    extra={
        "description": "Changes what is sent, all or nothing. password: a new one (null: a "
        "generated one, shown in this answer only); the old one is refused from the next "
        "handshake on. connectors: the ports are 1..N from now on (a port taken off keeps its "
        "past transactions; one with a session pending or open is a 409). disabled: true "
        "refuses the charger at the handshake and closes its connection, on whichever node.",
        "requestBody": _body(
            {
                "password": {**_PASSWORD, "type": ["string", "null"]},
                "connectors": {"type": "integer", "minimum": 1, "maximum": CONNECTORS_MAX},
                "disabled": _FLAG,
            },
            [],
            anyOf=[{"required": [name]} for name in ("password", "connectors", "disabled")],
        ),
    },
)
CHARGER_DELETE = Doc(
    responses=responses({204: {"description": "Deleted; its connection is closed"}}, 404, 409),
    extra={
        "description": "Removes the charger from the API and closes its connection; its past "
        "transactions stay readable, and its id stays taken. A session pending or open on it "
        "is a 409.",
    },
)
WEBHOOK_CREATE = Doc(
    responses=responses({201: _json(_WEBHOOK_ADDED, "The webhook, with its secret")}),
    extra={
        "description": "Adds an http(s) endpoint that receives this operator's events, signed "
        "with the secret shown in this answer only. Internal addresses are refused unless "
        "CHARGEGATE_WEBHOOK_ALLOW_PRIVATE is set.",
        "requestBody": _body(
            {"url": {"type": "string", "minLength": 1, "maxLength": URL_MAX}}, ["url"]
        ),
    },
)
WEBHOOK_LIST = _listed(WEBHOOK, "Newest first")
_PROFILE = _object(
    {
        "profile_id": {"type": "integer", "description": "The OCPP chargingProfileId"},
        "port": {"type": "integer", "description": "0: the whole charger"},
        "purpose": {"type": "string"},
        "stack_level": {"type": "integer"},
        "params": {"type": "object", "description": "The set_charging_profile params it took"},
        "set": SHOWN_TIME,
    }
)
PROFILE_LIST = Doc(
    responses=responses(
        {
            200: {
                **_json(
                    {"type": "array", "items": _PROFILE},
                    "The ChargePointMax / ChargingStationMax and TxDefault profiles the charger "
                    "accepted and nobody cleared since, newest id first (re-sent after each boot)",
                ),
                "headers": NEXT_CURSOR,
            }
        },
        404,
    ),
    extra={"description": BODY_TOO, "parameters": [*PAGE_QUERY, STG_QUERY]},
)
WEBHOOK_DELETE = Doc(
    responses=responses({204: {"description": "Removed: its undelivered events are dropped"}}, 404),
)

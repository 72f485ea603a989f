"""The OpenAPI description of /1.2/sites (see api/openapi.py for the why)."""

from __future__ import annotations

from typing import Any

from chargegate.api.openapi import Doc, _body, _json
from chargegate.api.openapi_fleet import CHARGE_POINT_ID, _listed, _object, responses
from chargegate.api.openapi_schemas import SHOWN_TIME, UUID
from chargegate.domain.sites import CURRENT_MAX_A, MEMBERS_MAX, NAME_MAX, POWER_MAX_W, VOLTAGES

_NUMBER_OR_NULL = {"type": ["number", "null"]}
_LIMITS: dict[str, Any] = {
    "max_current_a": {
        "type": "number",
        "minimum": 0,
        "maximum": CURRENT_MAX_A,
        "description": "The limit in A per phase (0.1 A steps)",
    },
    "max_power_w": {
        "type": "number",
        "minimum": 0,
        "maximum": POWER_MAX_W,
        "description": "The limit in W over all phases",
    },
}
_SETTINGS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
    **_LIMITS,
    "phases": {"type": "integer", "enum": [1, 3]},
    "voltage": {
        "type": "integer",
        "minimum": VOLTAGES[0],
        "maximum": VOLTAGES[1] - 1,
        "description": "Phase to neutral (V), for a limit in W; default 230",
    },
    "chargers": {
        "type": "array",
        "items": CHARGE_POINT_ID,
        "maxItems": MEMBERS_MAX,
        "description": "Chargers whose every port is under this circuit",
    },
    "ports": {
        "type": "array",
        "items": UUID,
        "maxItems": MEMBERS_MAX,
        "description": "Single ports under this circuit",
    },
}
_SITE_FIELDS: dict[str, Any] = {
    "site_uuid": UUID,
    "name": {"type": "string"},
    "parent_uuid": {
        "type": ["string", "null"],
        "format": "uuid",
        "description": "The site (or circuit) this circuit is inside; null: a site",
    },
    "max_current_a": _NUMBER_OR_NULL,
    "max_power_w": _NUMBER_OR_NULL,
    "phases": {"type": "integer"},
    "voltage": {"type": "integer"},
    "chargers": {"type": "array", "items": {"type": "string"}},
    "ports": {"type": "array", "items": UUID},
    "created": SHOWN_TIME,
}
_SHARE = _object(
    {
        "transaction_uuid": UUID,
        "port_uuid": UUID,
        "charge_point_id": {"type": "string"},
        "priority": {"type": "integer"},
        "allocated_a": {
            "type": "number",
            "description": "A per phase the balancer gives it; 0 while it waits for room",
        },
        "waiting": {"type": "boolean"},
        "measured_current_a": {**_NUMBER_OR_NULL, "description": "Its last Current.Import"},
        "measured_power_w": {**_NUMBER_OR_NULL, "description": "Its last Power.Active.Import"},
    }
)
SITE = _object(_SITE_FIELDS)
_ONE_SITE = _object(
    {
        **_SITE_FIELDS,
        "sessions": {"type": "array", "items": _SHARE, "description": "Open sessions under it"},
        "measured_current_a": {**_NUMBER_OR_NULL, "description": "Their measured current, summed"},
        "measured_power_w": {**_NUMBER_OR_NULL, "description": "Their measured power, summed"},
    }
)
_ONE_LIMIT = [{"required": ["max_current_a"]}, {"required": ["max_power_w"]}]

SITE_CREATE = Doc(
    responses=responses({201: _json(SITE, "The site or circuit")}, 404, 409),
    extra={
        "description": "Makes a site (its grid connection's limit) or, with parent_uuid, a "
        "circuit inside one (a feeder). Every circuit's limit holds for all the sessions under "
        "it: the balancer shares it equally (at least 6 A each; sessions beyond that wait at "
        "0 A, by priority then arrival) and sends each charger a TxProfile. A charger or port "
        "is under one circuit at most (409).",
        "requestBody": _body(
            {**_SETTINGS, "parent_uuid": UUID}, ["name", "phases"], oneOf=_ONE_LIMIT
        ),
    },
)
SITE_LIST = _listed(SITE, "Newest first")
SITE_GET = Doc(
    responses=responses({200: _json(_ONE_SITE, "The site, its sessions and their load")}, 404)
)
SITE_PATCH = Doc(
    responses=responses({200: _json(SITE, "The site, changed")}, 404, 409),
    extra={
        "description": "Changes what is sent, all or nothing. chargers and ports (either sent) "
        "replace the members: one left out is then under this circuit no more. A new limit is "
        "shared again at once, lowering before raising.",
        "requestBody": _body(
            _SETTINGS,
            [],
            anyOf=[{"required": [name]} for name in _SETTINGS],
            **{"not": {"required": ["max_current_a", "max_power_w"]}},
        ),
    },
)
SITE_DELETE = Doc(
    responses=responses(
        {204: {"description": "Deleted; its members are under it no more"}}, 404, 409
    ),
    extra={"description": "A site with circuits inside is a 409: delete those first."},
)

"""The OpenAPI description of /1.2/chargers/<charge_point_id>/configuration (see api/openapi.py
for the why)."""

from __future__ import annotations

from typing import Any

from chargegate.api.openapi import BODY_TOO, STG_QUERY, Doc, _json, responses
from chargegate.api.openapi_schemas import SHOWN_TIME

CONFIGURATION: dict[str, Any] = {
    "type": "object",
    "required": ["keys"],
    "properties": {
        "keys": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "value", "readonly", "read_at"],
                "properties": {
                    "key": {
                        "type": "string",
                        "description": "1.6: the configuration key; 2.0.1: the variable, as "
                        "Component.Variable (Component:instance@evse/connector.Variable:instance)",
                    },
                    "value": {"type": ["string", "null"], "description": "null: not said"},
                    "readonly": {
                        "type": ["boolean", "null"],
                        "description": "null: not said (a 2.0.1 variable read by GetVariables)",
                    },
                    "read_at": {**SHOWN_TIME, "description": "When it was read (or changed)"},
                },
                "additionalProperties": False,
            },
        }
    },
    "additionalProperties": False,
}

GET = Doc(
    responses=responses({200: _json(CONFIGURATION, "The keys as last read, by key")}, 404),
    extra={
        "description": "The charger's configuration as last read: by the get_configuration "
        "command, or by chargegate's own question after each boot (the keys it depends on). A "
        "change_configuration the charger took updates it; a read of all keys replaces it. "
        "The charger's own: the same with stg. " + BODY_TOO,
        "parameters": [STG_QUERY],
    },
)

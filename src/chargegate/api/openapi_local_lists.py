"""The OpenAPI description of /1.2/chargers/<charge_point_id>/local-list (see api/openapi.py
for the why)."""

from __future__ import annotations

from typing import Any

from chargegate.api.openapi import (
    BODY_TOO,
    IDEMPOTENCY_KEY,
    STG_QUERY,
    Doc,
    _json,
    _ref,
    _replayable,
    responses,
)
from chargegate.api.openapi_schemas import SHOWN_TIME, STG
from chargegate.domain.local_lists import ListState

LOCAL_LIST: dict[str, Any] = {
    "type": "object",
    "required": [
        "supported",
        "version",
        "charger_version",
        "state",
        "entries",
        "last_synced",
        "last_error",
    ],
    "properties": {
        "supported": {
            "type": ["boolean", "null"],
            "description": "Whether the charger has a local list (null: not asked yet)",
        },
        "version": {"type": "integer", "description": "The version we last had accepted"},
        "charger_version": {
            "type": ["integer", "null"],
            "description": "The version the charger last reported",
        },
        "state": {"type": "string", "enum": [state.value for state in ListState]},
        "entries": {"type": "integer", "description": "Tokens on the charger's list"},
        "last_synced": SHOWN_TIME,
        "last_error": {"type": ["string", "null"]},
    },
    "additionalProperties": False,
}

GET = Doc(
    responses=responses({200: _json(LOCAL_LIST, "The list's sync state")}, 404),
    extra={
        "description": "Chargers that have a local authorization list hold the operator's "
        "production tokens (Accepted first, then Blocked, then Expired, as many as the "
        "charger takes), brought in sync when the charger connects and after each token change. "
        "The list is the charger's own: the same with stg. " + BODY_TOO,
        "parameters": [STG_QUERY],
    },
)
RESEND = Doc(
    responses=responses(
        {202: _replayable(_json(_ref("StopAccepted"), "Full resend queued: follow it"))},
        404,
        409,
        422,
    ),
    extra={
        "description": "Sends the charger its full local list again (as the send_local_list "
        "command does). An offline charger's queue item fails at once.",
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"stg": STG},
                        "additionalProperties": False,
                    }
                }
            },
        },
    },
)

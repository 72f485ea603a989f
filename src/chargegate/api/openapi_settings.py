"""The OpenAPI description of /1.2/settings and /1.2/chargers/<id>/settings (see api/openapi.py
for the why)."""

from __future__ import annotations

from typing import Any

from chargegate.api.openapi import BODY_TOO, Doc, _body, _json, _query, responses
from chargegate.domain.settings import BlockedSessions, ConcurrentTx
from chargegate.domain.tokens import UnknownTokens

_UNKNOWN_TOKENS = {
    "type": "string",
    "enum": [policy.value for policy in UnknownTokens],
    "description": "What a token not in the registry is told: reject (Invalid) or accept "
    "(free vend)",
}
_CONCURRENT_TX = {
    "type": "string",
    "enum": [policy.value for policy in ConcurrentTx],
    "description": "When a valid token is told ConcurrentTx: while it has a live session "
    "(token), also while another token of its group has one (group), or never (off)",
}
_BLOCKED_SESSIONS = {
    "type": "string",
    "enum": [policy.value for policy in BlockedSessions],
    "description": "Blocking a token through the API lets its running sessions go on "
    "(continue; the charger is told Blocked when it next presents it) or stops them (stop)",
}
_CLEAR_CACHE = {
    "type": "boolean",
    "description": "Whether blocking, expiring or deleting a token sends ClearCache to the "
    "operator's online chargers",
}
# Settings have no sandbox copy: stg is taken, and a change with stg true is refused.
_STG = {
    "type": ["boolean", "null"],
    "description": "Settings are the operator's, for its real chargers: a change with stg true "
    "is refused (400)",
}
_SETTINGS: dict[str, Any] = {
    "type": "object",
    "required": ["unknown_tokens", "concurrent_tx", "blocked_sessions", "clear_cache_on_block"],
    "properties": {
        "unknown_tokens": _UNKNOWN_TOKENS,
        "concurrent_tx": _CONCURRENT_TX,
        "blocked_sessions": _BLOCKED_SESSIONS,
        "clear_cache_on_block": _CLEAR_CACHE,
    },
    "additionalProperties": False,
}
_CHARGER_SETTINGS: dict[str, Any] = {
    "type": "object",
    "required": ["charge_point_id", "unknown_tokens", "applied_unknown_tokens"],
    "properties": {
        "charge_point_id": {"type": "string"},
        "unknown_tokens": {
            **_UNKNOWN_TOKENS,
            "type": ["string", "null"],
            "enum": [*_UNKNOWN_TOKENS["enum"], None],
            "description": "The charger's own policy for unknown tokens; null: its operator's",
        },
        "applied_unknown_tokens": {
            **_UNKNOWN_TOKENS,
            "description": "The policy its unknown tokens are answered by now",
        },
    },
    "additionalProperties": False,
}
_STG_QUERY = _query("stg", _STG, "Accepted for symmetry; the settings are the same")

GET = Doc(
    responses=responses({200: _json(_SETTINGS, "The operator's token policies")}),
    extra={"description": BODY_TOO, "parameters": [_STG_QUERY]},
)
PATCH = Doc(
    responses=responses({200: _json(_SETTINGS, "The operator's token policies, changed")}),
    extra={
        "description": "Changes the settings sent; they apply to the next message a charger "
        "sends (and, blocked_sessions and clear_cache_on_block, to the next token change).",
        "requestBody": _body(
            {**_SETTINGS["properties"], "stg": _STG},
            [],
            anyOf=[{"required": [name]} for name in _SETTINGS["required"]],
        ),
    },
)
CHARGER_GET = Doc(
    responses=responses({200: _json(_CHARGER_SETTINGS, "The charger's settings")}, 404),
    extra={"description": BODY_TOO, "parameters": [_STG_QUERY]},
)
CHARGER_PATCH = Doc(
    responses=responses({200: _json(_CHARGER_SETTINGS, "The charger's settings, changed")}, 404),
    extra={
        "description": "Sets the charger's own policy for unknown tokens; null: its operator's.",
        "requestBody": _body(
            {
                "unknown_tokens": _CHARGER_SETTINGS["properties"]["unknown_tokens"],
                "stg": _STG,
            },
            ["unknown_tokens"],
        ),
    },
)

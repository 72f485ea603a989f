"""The OpenAPI description of /1.2/tokens (see api/openapi.py for the why)."""

from __future__ import annotations

from typing import Any

from chargegate.api.openapi import (
    BODY_TOO,
    IDEMPOTENCY_KEY,
    NEXT_CURSOR,
    PAGE_QUERY,
    STG_QUERY,
    Doc,
    _body,
    _json,
    _query,
    _ref,
    _replayable,
    responses,
)
from chargegate.api.openapi_schemas import STG, TOKEN_STATUS, TOKEN_TYPE, UTC_TIME
from chargegate.domain.token_import import ERRORS_LISTED, IMPORT_MAX_ROWS, ImportMode
from chargegate.domain.tokens import ID_TAG_MAX, NOTE_MAX

ID_TAG: dict[str, Any] = {
    "type": "string",
    "pattern": f"^[A-Za-z0-9*\\-_=:+|@.]{{1,{ID_TAG_MAX}}}$",
    "description": "The card's id (compared without regard to letter case); at most 20 "
    "characters for OCPP 1.6 chargers",
    "example": "04E4F2A2B53C80",
}
_NULLABLE_ID_TAG = {**ID_TAG, "type": ["string", "null"]}
_EXPIRES = {**UTC_TIME, "type": ["string", "null"]}
_NOTE = {
    "type": ["string", "null"],
    "maxLength": NOTE_MAX,
    "pattern": "^[^\\u0000-\\u001f\\u007f]*$",
}

_TOKEN_FIELDS = {
    "id_tag": ID_TAG,
    "type": TOKEN_TYPE,
    "status": TOKEN_STATUS,
    "expires": _EXPIRES,
    "parent_id_tag": _NULLABLE_ID_TAG,
    "note": _NOTE,
}
CREATE = Doc(
    responses=responses({201: _json(_ref("Token"), "The token, as stored")}, 409),
    extra={
        "description": "Adds a token that chargers of this key's operator are answered from: "
        "Accepted, Blocked, or Expired (also once past expires); unknown tokens are Invalid.",
        "requestBody": _body({**_TOKEN_FIELDS, "stg": STG}, ["id_tag", "status"]),
    },
)
_COUNT = {"type": "integer", "minimum": 0}
IMPORT = Doc(
    responses=responses(
        {
            200: _replayable(
                _json(
                    {
                        "type": "object",
                        "required": ["created", "updated", "unchanged"],
                        "properties": {"created": _COUNT, "updated": _COUNT, "unchanged": _COUNT},
                        "additionalProperties": False,
                    },
                    "Imported: how many tokens are new, changed, and as they were",
                )
            )
        },
        409,
        422,
    ),
    extra={
        "description": f"Adds and changes up to {IMPORT_MAX_ROWS} tokens at once, all or none. "
        "Each row is checked as POST /1.2/tokens checks a token; id_tags may not repeat "
        "(letter case aside). upsert (the default) changes the fields a row names of a token "
        "that exists; create refuses the import then (409). A refusal lists the rows at fault "
        f"in errors (the first {ERRORS_LISTED}), by index. More rows, or a body over "
        "CHARGEGATE_API_IMPORT_MAX_BODY_BYTES, is a 413.",
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": _body(
            {
                "tokens": {
                    "type": "array",
                    "maxItems": IMPORT_MAX_ROWS,
                    "items": {
                        "type": "object",
                        "properties": _TOKEN_FIELDS,
                        "required": ["id_tag", "status"],
                        "additionalProperties": False,
                    },
                },
                "mode": {"type": ["string", "null"], "enum": [*ImportMode, None]},
                "stg": STG,
            },
            ["tokens"],
        ),
    },
)
LIST = Doc(
    responses=responses(
        {
            200: {
                **_json({"type": "array", "items": _ref("Token")}, "By id_tag"),
                "headers": NEXT_CURSOR,
            }
        }
    ),
    extra={
        "description": BODY_TOO,
        "parameters": [
            *PAGE_QUERY,
            _query("status", TOKEN_STATUS, "Only tokens with this status"),
            _query("parent_id_tag", ID_TAG, "Only tokens of this group"),
            STG_QUERY,
        ],
    },
)
GET = Doc(
    responses=responses({200: _json(_ref("Token"), "The token")}, 404),
    extra={"description": BODY_TOO, "parameters": [STG_QUERY]},
)
PATCH = Doc(
    responses=responses({200: _json(_ref("Token"), "The token, changed")}, 404),
    extra={
        "description": "Changes the fields sent; null clears expires, parent_id_tag or note.",
        "requestBody": _body(
            {
                "status": TOKEN_STATUS,
                "expires": _EXPIRES,
                "parent_id_tag": _NULLABLE_ID_TAG,
                "note": _NOTE,
                "stg": STG,
            },
            [],
            anyOf=[{"required": [name]} for name in ("status", "expires", "parent_id_tag", "note")],
        ),
    },
)
DELETE = Doc(
    responses=responses({204: {"description": "Removed: chargers are answered Invalid"}}, 404),
    extra={"parameters": [STG_QUERY]},
)

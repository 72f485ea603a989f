"""The OpenAPI description of /1.2, written to match what the routes really do.

The routes read their arguments by hand (the seed sends JSON bodies on GET, and every error
must be `{"message"}`), so FastAPI cannot infer the schemas: they are declared here, and
tests/test_openapi.py checks the server against them with schemathesis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from chargegate.api.openapi_schemas import SCHEMAS, STG, UTC_TIME, UUID
from chargegate.domain.id_tags import ID_TAG_16_MAX, ID_TAG_CHARACTERS, ID_TAG_MAX
from chargegate.domain.profile_values import LIMIT_MAX
from chargegate.domain.validation import INVOICE_ID_MAX, PRIORITY_MAX

_ERRORS = {
    400: "Invalid arguments (the message says which and how)",
    401: "Missing or wrong x-api-key",
    403: "The transaction has already ended, or (any endpoint but the session ones) the API "
    "key's role is sessions",
    404: "No such resource for this API key",
    409: "Conflict (port busy, or the same Idempotency-Key still being processed)",
    413: "Request body too large",
    422: "Idempotency-Key reused with a different request",
    429: "Rate limit exceeded; see Retry-After",
    500: "Internal error: check with a GET whether the request took effect before retrying",
}
# Headers of answers, declared so that clients (and schemathesis) know their shape.
RETRY_AFTER = {
    "Retry-After": {"description": "Whole seconds to wait", "schema": {"type": "integer"}}
}
REPLAYED = {
    "Idempotent-Replayed": {
        "description": "Present (true) when this is the stored answer to an earlier request",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


@dataclass(frozen=True, slots=True)
class Doc:
    """What a route adds to its generated operation."""

    responses: dict[int | str, dict[str, Any]]
    extra: dict[str, Any] | None = None


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def responses(ok: dict[int, dict[str, Any]], *errors: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {}
    for status, response in ok.items():
        out[status] = response
    for status in (400, 401, 413, 429, 500, *errors):
        out[status] = _json(_ref("Error"), _ERRORS[status])
    out[429] = {**out[429], "headers": RETRY_AFTER}
    return out


def _replayable(response: dict[str, Any]) -> dict[str, Any]:
    return {**response, "headers": REPLAYED}


def _query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> Any:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


def _body(properties: dict[str, Any], required: list[str], **more: Any) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        **more,
    }
    return {"required": True, "content": {"application/json": {"schema": schema}}}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "A retry with the same key replays the first answer and changes nothing",
}
# GETs also read their arguments from a JSON body, as the seed sends them (the body wins).
BODY_TOO = "Arguments as query parameters, or (as the seed shows) the same names in a JSON body."
STG_QUERY = _query("stg", {"type": "boolean"}, "Staging records instead of real ones")
# A paged list's arguments (services/listing.py).
PAGE_QUERY = [
    _query("limit", {"type": "integer", "minimum": 0}, "A page of N; 0 or none for all"),
    _query("cursor", {"type": "string"}, "X-Next-Cursor of the previous page"),
]

CREATE = Doc(
    responses=responses(
        {201: _replayable(_json(_ref("Created"), "Start requested"))}, 404, 409, 422
    ),
    extra={
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": _body(
            {
                "port_uuid": UUID,
                "expires": UTC_TIME,
                "invoice_id": {
                    "type": ["string", "null"],
                    "maxLength": INVOICE_ID_MAX,
                    "pattern": "^[^\\u0000-\\u001f\\u007f]*$",
                },
                "stg": STG,
                "id_tag": {
                    "type": ["string", "null"],
                    "pattern": f"^[{ID_TAG_CHARACTERS}]{{1,{ID_TAG_16_MAX}}}$",
                    "description": "The driver's own card, which the charger is started with "
                    "(so that receipts and the charger's local authorization name it); without "
                    "it one is generated. One live start per card and charger: a second is 409",
                },
                "max_current_a": {
                    "type": ["number", "null"],
                    "exclusiveMinimum": 0,
                    "maximum": LIMIT_MAX,
                    "description": "A limit in A per phase for the session, sent as its "
                    "TxProfile (docs/smart-charging.md); not with max_power_w",
                },
                "max_power_w": {
                    "type": ["number", "null"],
                    "exclusiveMinimum": 0,
                    "maximum": LIMIT_MAX,
                    "description": "A limit in W for the session; not with max_current_a",
                },
                "priority": {
                    "type": ["integer", "null"],
                    "minimum": 0,
                    "maximum": PRIORITY_MAX,
                    "description": "On a site with too little room for every session, higher "
                    "priorities get room first (then earlier arrivals); default 0",
                },
            },
            ["port_uuid", "expires"],
            # Not both limits at once.
            **{"not": {"required": ["max_current_a", "max_power_w"]}},
        ),
    },
)
NEXT_CURSOR = {
    "X-Next-Cursor": {
        "description": "Present when the page is full: pass it as cursor",
        "schema": {"type": "string"},
    }
}
LIST = Doc(
    responses=responses(
        {
            200: {
                **_json({"type": "array", "items": _ref("Transaction")}, "Newest first"),
                "headers": NEXT_CURSOR,
            }
        },
        404,
    ),
    extra={
        "description": f"{BODY_TOO} port_uuid, id_tag or both (400 with neither): a port's "
        "sessions, a card's on every port, or a card's on one port.",
        "parameters": [
            _query("port_uuid", UUID, "The port"),
            _query(
                "id_tag",
                {"type": "string", "pattern": f"^[{ID_TAG_CHARACTERS}]{{1,{ID_TAG_MAX}}}$"},
                "Only sessions run on this card (without regard to letter case)",
            ),
            _query("limit", {"type": "integer", "minimum": 0}, "0 for all", required=True),
            STG_QUERY,
            _query("cursor", {"type": "string"}, "X-Next-Cursor of the previous page"),
            _query("since", UTC_TIME, "Created at or after"),
            _query("until", UTC_TIME, "Created before"),
            _query(
                "state",
                {"type": "string", "enum": ["Pending", "Open", "Closed", "Failed"]},
                "Only transactions in this state",
            ),
        ],
    },
)
GET = Doc(
    responses=responses({200: _json(_ref("Transaction"), "The transaction")}, 404),
    extra={"description": BODY_TOO, "parameters": [STG_QUERY]},
)
PATCH = Doc(
    responses=responses(
        {
            202: _replayable(_json(_ref("StopAccepted"), "Stop requested: follow the queue item")),
            204: _replayable({"description": "Expiry changed"}),
        },
        403,
        404,
        409,
        422,
    ),
    extra={
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": _body(
            {
                "expires": UTC_TIME,
                "state": {
                    "type": "string",
                    "pattern": "^[cC][lL][oO][sS][eE][dD]$",
                    "description": "closed, in any letter case: stop the session",
                    "example": "closed",
                },
                "stg": STG,
                "force": {
                    "type": "boolean",
                    "description": "With state closed: give up on a stop the charger does not "
                    "take (409 unless one failed) and close the transaction without its word",
                },
            },
            [],
            # Exactly one of the two: extend, or stop.
            oneOf=[{"required": ["expires"]}, {"required": ["state"]}],
        ),
    },
)
QUEUE = Doc(
    responses=responses(
        {
            200: _json(
                {
                    "oneOf": [
                        _ref("Transaction"),
                        _ref("QueueInProgress"),
                        _ref("QueueFailure"),
                        _ref("CommandSuccess"),
                    ]
                },
                "The transaction once a start or stop succeeded, the charger's answer once a "
                "command succeeded, else the status",
            )
        },
        404,
    ),
    extra={
        "description": BODY_TOO,
        "parameters": [
            STG_QUERY,
            _query(
                "stg_input",
                {"type": "string", "enum": ["Success", "Failure", "InProgress"]},
                "Staging only: the outcome this queue item takes",
            ),
        ],
    },
)
PORTS = Doc(
    responses=responses(
        {
            200: {
                **_json(
                    {"type": "array", "items": _ref("Port")},
                    "This key's ports, by charger id then connector",
                ),
                "headers": NEXT_CURSOR,
            }
        }
    ),
    extra={
        "description": BODY_TOO,
        "parameters": [
            *PAGE_QUERY,
        ],
    },
)


def install(app: FastAPI) -> None:
    """The generated document, with our schemas and the x-api-key scheme added."""

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description="chargegate Transaction Management API",
                routes=app.routes,
            )
            components = document.setdefault("components", {})
            components.setdefault("schemas", {}).update(SCHEMAS)
            components["securitySchemes"] = {
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}
            }
            document["security"] = [{"apiKey": []}]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]

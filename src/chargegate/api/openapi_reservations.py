"""The OpenAPI description of /1.2/reservations (see api/openapi.py for the why)."""

from __future__ import annotations

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
from chargegate.api.openapi_schemas import RESERVATION_STATE, STG, UTC_TIME, UUID
from chargegate.api.openapi_tokens import ID_TAG

CREATE = Doc(
    responses=responses(
        {202: _replayable(_json(_ref("Reserved"), "ReserveNow queued: follow the queue item"))},
        404,
        409,
        422,
    ),
    extra={
        "description": "Reserves a port (port_uuid) or any port of a charger (charge_point_id) "
        "for a token until expires (at most 24 hours ahead). The token must be one chargers "
        "accept. A session the token (or, with parent_id_tag, its group) starts on it uses the "
        "reservation.",
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": _body(
            {
                "port_uuid": UUID,
                "charge_point_id": {"type": "string", "minLength": 1, "maxLength": 48},
                "id_tag": ID_TAG,
                "parent_id_tag": {**ID_TAG, "type": ["string", "null"]},
                "expires": UTC_TIME,
                "stg": STG,
            },
            ["id_tag", "expires"],
            oneOf=[{"required": ["port_uuid"]}, {"required": ["charge_point_id"]}],
        ),
    },
)
LIST = Doc(
    responses=responses(
        {
            200: {
                **_json({"type": "array", "items": _ref("Reservation")}, "Newest first"),
                "headers": NEXT_CURSOR,
            }
        },
        404,
    ),
    extra={
        "description": BODY_TOO,
        "parameters": [
            *PAGE_QUERY,
            _query("port_uuid", UUID, "Only this port's reservations"),
            _query("state", RESERVATION_STATE, "Only reservations in this state"),
            STG_QUERY,
        ],
    },
)
GET = Doc(
    responses=responses({200: _json(_ref("Reservation"), "The reservation")}, 404),
    extra={"description": BODY_TOO, "parameters": [STG_QUERY]},
)
PATCH = Doc(
    responses=responses(
        {
            202: _replayable(
                _json(_ref("StopAccepted"), "CancelReservation queued: follow the queue item")
            )
        },
        404,
        409,
        422,
    ),
    extra={
        "description": "Cancels a reservation the charger holds (409 once it has ended, or "
        "while its ReserveNow is still unanswered).",
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": _body(
            {"state": {"type": "string", "const": "cancelled"}, "stg": STG}, ["state"]
        ),
    },
)

"""The schemas of /1.2's bodies, for the OpenAPI description (api/openapi.py)."""

from __future__ import annotations

from typing import Any

from chargegate.domain.states import (
    ChargerAction,
    ReservationAction,
    ReservationState,
    TransactionOrigin,
)
from chargegate.domain.tokens import TokenStatus, TokenType

UTC_TIME = {
    "type": "string",
    "description": "ISO 8601 in UTC: a Z, +0000 or +00:00 suffix; other offsets are refused",
    "example": "2030-01-31T20:40:00+0000",
}
SHOWN_TIME = {
    "type": ["string", "null"],
    "description": "UTC, YYYY-MM-DDTHH:MM:SS",
    "example": "2030-01-31T20:40:00",
}
UUID = {"type": "string", "format": "uuid"}
# Present for a command's queue item: which command it follows.
COMMAND_NAME = {"type": "string", "enum": [action.value for action in ChargerAction]}
# What a command's queue item names: a bare command, or a reservation's.
QUEUED_COMMAND = {
    "type": "string",
    "enum": [action.value for action in (*ChargerAction, *ReservationAction)],
}
RESERVATION_STATE = {"type": "string", "enum": [state.value for state in ReservationState]}
_NULLABLE_UUID = {**UUID, "type": ["string", "null"]}
STG = {"type": ["boolean", "null"], "description": "Staging (sandbox): no charger is contacted"}
TOKEN_STATUS = {"type": "string", "enum": [status.value for status in TokenStatus]}
TOKEN_TYPE = {
    "type": "string",
    "enum": [kind.value for kind in TokenType],
    "description": "OCPP 2.0.1 IdTokenEnumType (default ISO14443, an RFID card)",
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["message"],
        "properties": {
            "message": {"type": "string"},
            "errors": {
                "description": "Only from POST /1.2/tokens:import: the rows at fault",
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", "message"],
                    "properties": {
                        "index": {"type": "integer", "minimum": 0},
                        "message": {"type": "string"},
                    },
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
    },
    "Transaction": {
        "type": "object",
        "required": [
            "transaction_uuid",
            "port_uuid",
            "state",
            "started",
            "ended",
            "expires",
            "invoice_id",
            "energy_wh",
            "stop",
            "id_tag",
            "origin",
            "stop_reason",
        ],
        "properties": {
            "transaction_uuid": UUID,
            "port_uuid": UUID,
            "state": {"type": "string", "enum": ["Pending", "Open", "Closed", "Failed"]},
            "started": SHOWN_TIME,
            "ended": SHOWN_TIME,
            "expires": SHOWN_TIME,
            "invoice_id": {"type": ["string", "null"]},
            "energy_wh": {"type": ["integer", "null"], "minimum": 0},
            "stop": {
                "description": "The stop under way while an open transaction is being stopped "
                "(null otherwise): a stop the charger does not take is retried until it does",
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["state", "requested", "attempts", "last_error", "next_step"],
                        "properties": {
                            "state": {
                                "type": "string",
                                "enum": ["requested", "accepted", "reconciling", "retrying"],
                            },
                            "requested": SHOWN_TIME,
                            "attempts": {
                                "type": "integer",
                                "minimum": 0,
                                "description": "Attempts that did not take so far",
                            },
                            "last_error": {"type": ["string", "null"]},
                            "next_step": SHOWN_TIME,
                        },
                        "additionalProperties": False,
                    },
                ],
            },
            "id_tag": {
                "type": "string",
                "description": "The token the charger runs the session on: the driver's card "
                "(a session begun at the charger, or a start with id_tag), or one generated for "
                "an API start",
            },
            "origin": {
                "type": "string",
                "enum": [origin.value for origin in TransactionOrigin],
                "description": "api: started through POST /transactions; charger: begun at the "
                "charger with a token it was told is Accepted",
            },
            "stop_reason": {
                "type": ["string", "null"],
                "description": "The charger's reason for the end (OCPP 1.6 Reason, 2.0.1 "
                "stoppedReason: Remote, Local, EVDisconnected, ...); null while the session runs, "
                "and when it ended without the charger's word (cancelled before it began, a stop "
                "given up on)",
            },
        },
        "additionalProperties": False,
    },
    "Created": {
        "type": "object",
        "required": ["href", "queue_uuid", "transaction_uuid"],
        "properties": {
            "href": {"type": "string", "example": "/queue/<queue_uuid>"},
            "queue_uuid": UUID,
            "transaction_uuid": UUID,
        },
        "additionalProperties": False,
    },
    "StopAccepted": {
        "type": "object",
        "required": ["href", "id"],
        "properties": {"href": {"type": "string"}, "id": UUID},
        "additionalProperties": False,
    },
    "QueueInProgress": {
        "type": "object",
        "required": ["id", "status"],
        "properties": {
            "id": UUID,
            "status": {"type": "string", "const": "IN PROGRESS"},
            "command": QUEUED_COMMAND,
        },
        "additionalProperties": False,
    },
    "QueueFailure": {
        "type": "object",
        "required": ["id", "status", "reason"],
        "properties": {
            "id": UUID,
            "status": {"type": "string", "const": "FAILURE"},
            "command": QUEUED_COMMAND,
            "reason": {"type": "string", "description": "What happened and what to do"},
        },
        "additionalProperties": False,
    },
    "CommandSuccess": {
        "type": "object",
        "required": ["id", "status", "command", "result"],
        "properties": {
            "id": UUID,
            "status": {"type": "string", "const": "SUCCESS"},
            "command": QUEUED_COMMAND,
            "result": {
                "type": ["object", "string"],
                "description": "The charger's answer object (a summary for a local-list sync "
                "and in staging)",
            },
        },
        "additionalProperties": False,
    },
    "Port": {
        "type": "object",
        "required": ["port_uuid", "charge_point_id", "connector_id", "status", "online"],
        "properties": {
            "port_uuid": UUID,
            "charge_point_id": {"type": "string"},
            "connector_id": {"type": "integer"},
            "status": {"type": ["string", "null"]},
            "online": {"type": "boolean"},
        },
        "additionalProperties": False,
    },
    "Token": {
        "type": "object",
        "required": [
            "id_tag",
            "type",
            "status",
            "expires",
            "parent_id_tag",
            "note",
            "created",
            "updated",
        ],
        "properties": {
            "id_tag": {"type": "string"},
            "type": TOKEN_TYPE,
            "status": TOKEN_STATUS,
            "expires": SHOWN_TIME,
            "parent_id_tag": {"type": ["string", "null"]},
            "note": {"type": ["string", "null"]},
            "created": SHOWN_TIME,
            "updated": SHOWN_TIME,
        },
        "additionalProperties": False,
    },
    "Reservation": {
        "type": "object",
        "required": [
            "reservation_uuid",
            "charge_point_id",
            "port_uuid",
            "id_tag",
            "parent_id_tag",
            "expires",
            "state",
            "reason",
            "created",
            "ended",
            "transaction_uuid",
        ],
        "properties": {
            "reservation_uuid": UUID,
            "charge_point_id": {"type": "string"},
            "port_uuid": {
                **_NULLABLE_UUID,
                "description": "null: any port of the charger (OCPP 1.6 connectorId 0)",
            },
            "id_tag": {"type": "string"},
            "parent_id_tag": {"type": ["string", "null"]},
            "expires": SHOWN_TIME,
            "state": RESERVATION_STATE,
            "reason": {
                "type": ["string", "null"],
                "description": "Why it failed (the charger's answer: Occupied, Faulted, ...)",
            },
            "created": SHOWN_TIME,
            "ended": SHOWN_TIME,
            "transaction_uuid": {
                **_NULLABLE_UUID,
                "description": "The session that used the reservation",
            },
        },
        "additionalProperties": False,
    },
    "Reserved": {
        "type": "object",
        "required": ["href", "id", "reservation_uuid"],
        "properties": {
            "href": {"type": "string", "example": "/queue/<id>"},
            "id": UUID,
            "reservation_uuid": UUID,
        },
        "additionalProperties": False,
    },
}

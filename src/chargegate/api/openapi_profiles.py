"""The OpenAPI description of the smart charging commands' params (set_charging_profile,
clear_charging_profile, get_composite_schedule: domain.charging_profiles)."""

from __future__ import annotations

from typing import Any

from chargegate.api.openapi_schemas import UTC_TIME
from chargegate.domain.charging_profiles import (
    PERIODS_MAX,
    Kind,
    Purpose,
    RateUnit,
    Recurrency,
)
from chargegate.domain.profile_values import INT_MAX, LIMIT_MAX

_WHOLE: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": INT_MAX}
_PURPOSE: dict[str, Any] = {
    "type": "string",
    "enum": [purpose.value for purpose in Purpose],
    "description": "ChargePointMaxProfile (1.6) / ChargingStationMaxProfile (2.0.1): the whole "
    "charger, port 0; TxDefaultProfile: transactions on a port (0: every port); TxProfile: the "
    "port's running transaction",
}
_UNIT: dict[str, Any] = {
    "type": "string",
    "enum": [unit.value for unit in RateUnit],
    "description": "A (current per phase) or W (power)",
}
_LIMIT: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": LIMIT_MAX}
_PERIOD: dict[str, Any] = {
    "type": "object",
    "properties": {
        "start_s": {**_WHOLE, "description": "Seconds from the schedule's start (first: 0)"},
        "limit": _LIMIT,
        "phases": {"type": "integer", "minimum": 1, "maximum": 3},
    },
    "required": ["start_s", "limit"],
    "additionalProperties": False,
}

SET_PROFILE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "purpose": _PURPOSE,
        "unit": _UNIT,
        "limit": {**_LIMIT, "description": "One limit from the start (or give periods)"},
        "periods": {"type": "array", "minItems": 1, "maxItems": PERIODS_MAX, "items": _PERIOD},
        "port": {**_WHOLE, "description": "The port; 0 or absent: the whole charger"},
        "stack_level": {**_WHOLE, "description": "Higher wins among profiles of one purpose"},
        "profile_id": {**_WHOLE, "minimum": 1, "description": "Default: chargegate's own"},
        "kind": {"type": "string", "enum": [kind.value for kind in Kind]},
        "recurrency": {"type": "string", "enum": [each.value for each in Recurrency]},
        "start_schedule": UTC_TIME,
        "duration_s": {**_WHOLE, "minimum": 1},
        "valid_from": UTC_TIME,
        "valid_to": UTC_TIME,
        "transaction_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 36,
            "description": "TxProfile: the transaction as the charger names it (default: the "
            "port's running one)",
        },
    },
    "required": ["purpose", "unit"],
    "oneOf": [{"required": ["limit"]}, {"required": ["periods"]}],
    "additionalProperties": False,
}
CLEAR_PROFILE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "profile_id": {**_WHOLE, "minimum": 1},
        "port": _WHOLE,
        "purpose": _PURPOSE,
        "stack_level": _WHOLE,
    },
    "required": [],
    "additionalProperties": False,
    "description": "By profile_id, or every profile matching all the criteria given",
}
COMPOSITE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "duration_s": {**_WHOLE, "minimum": 1, "description": "How far ahead, in seconds"},
        "port": {**_WHOLE, "description": "0 or absent: the whole charger"},
        "unit": _UNIT,
    },
    "required": ["duration_s"],
    "additionalProperties": False,
}

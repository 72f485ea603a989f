"""Schema validation of every OCPP payload, at a fraction of the generic validator's cost.

The `ocpp` library validates with jsonschema's Draft4Validator, which walks the schema anew for
every message (a generator per keyword, a child validator per level): under load it was the
largest part of our CPU per message after the socket itself. Here each schema is compiled once
into nested checks that only answer "valid or not". A valid payload (nearly all of them) is done;
one the checks refuse, or one whose schema uses anything they do not cover, goes through the
library as before, which raises the same OCPPError (and code) as ever.

The checks may only be stricter than Draft4Validator, never looser: where unsure they say "not
valid" and let the library decide. tests/test_ocpp_validation.py holds them to that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ocpp.messages import Call, CallResult, MessageType, get_validator, validate_payload

from chargegate.domain.errors import ChargegateError

Check = Callable[[Any], bool]

# Schemas of 1.6 actions that the library parses with decimal.Decimal (their multipleOf), left
# entirely to it.
_DECIMAL_1_6 = {
    (MessageType.Call, "SetChargingProfile"),
    (MessageType.Call, "RemoteStartTransaction"),
    (MessageType.CallResult, "GetCompositeSchedule"),
}
# Keywords that say nothing about validity (jsonschema validates no "format" unless asked to).
_ANNOTATIONS = frozenset(
    {"description", "javaType", "comment", "title", "default", "$schema", "$id", "format"}
)


class Unsupported(ChargegateError):
    """The schema uses something these checks do not cover."""


def _is_type(name: str) -> Check:
    # Draft 4 as jsonschema reads it: booleans are neither integers nor numbers, 1.0 is no
    # integer.
    match name:
        case "string":
            return lambda v: isinstance(v, str)
        case "object":
            return lambda v: isinstance(v, dict)
        case "array":
            return lambda v: isinstance(v, list)
        case "boolean":
            return lambda v: isinstance(v, bool)
        case "integer":
            return lambda v: isinstance(v, int) and not isinstance(v, bool)
        case "number":
            return lambda v: isinstance(v, int | float) and not isinstance(v, bool)
        case _:
            raise Unsupported(f"type {name!r}")


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self._definitions: dict[str, Any] = root.get("definitions", {})
        self._refs: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if not isinstance(schema, dict):
            raise Unsupported("schema is not an object")
        checks: list[Check] = []
        for keyword, value in schema.items():
            if keyword in _ANNOTATIONS or keyword == "definitions":
                continue
            checks.append(self._keyword(keyword, value, schema))
        if not checks:
            return lambda _v: True
        if len(checks) == 1:
            return checks[0]
        return lambda v: all(check(v) for check in checks)

    def _keyword(self, keyword: str, value: Any, schema: dict[str, Any]) -> Check:
        match keyword:
            case "type" if isinstance(value, str):
                return _is_type(value)
            case "$ref" if isinstance(value, str) and value.startswith("#/definitions/"):
                return self._ref(value.removeprefix("#/definitions/"))
            case "properties" if isinstance(value, dict):
                return self._properties(value, schema.get("additionalProperties", True))
            case "additionalProperties" if isinstance(value, bool):
                if "properties" in schema or value:
                    return lambda _v: True  # checked with "properties"
                return lambda v: not isinstance(v, dict) or not v
            case "required" if isinstance(value, list):
                required = tuple(value)
                return lambda v: not isinstance(v, dict) or all(k in v for k in required)
            case "enum" if all(isinstance(item, str) for item in value):
                allowed = frozenset(value)
                return lambda v: isinstance(v, str) and v in allowed
            case "maxLength" if isinstance(value, int):
                return lambda v: not isinstance(v, str) or len(v) <= value
            case "items" if isinstance(value, dict):
                item = self.compile(value)
                return lambda v: not isinstance(v, list) or all(item(i) for i in v)
            case "additionalItems":
                # Only applies when "items" is a list, which these checks do not take.
                if isinstance(schema.get("items", {}), dict):
                    return lambda _v: True
                raise Unsupported("additionalItems")
            case "minItems" if isinstance(value, int):
                return lambda v: not isinstance(v, list) or len(v) >= value
            case "maxItems" if isinstance(value, int):
                return lambda v: not isinstance(v, list) or len(v) <= value
            case "minimum" if _number(value) and not schema.get("exclusiveMinimum"):
                return lambda v: not _number(v) or v >= value
            case "maximum" if _number(value) and not schema.get("exclusiveMaximum"):
                return lambda v: not _number(v) or v <= value
            case _:
                raise Unsupported(keyword)

    def _ref(self, name: str) -> Check:
        if name not in self._refs:
            if name not in self._definitions:
                raise Unsupported(f"$ref {name}")
            # Set before compiling so that a definition referring to itself terminates.
            self._refs[name] = _unsupported
            self._refs[name] = self.compile(self._definitions[name])
        return self._refs[name]

    def _properties(self, properties: dict[str, Any], additional: Any) -> Check:
        if not isinstance(additional, bool):
            raise Unsupported("additionalProperties schema")
        fields = {key: self.compile(sub) for key, sub in properties.items()}

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for key, item in value.items():
                field = fields.get(key)
                if field is None:
                    if not additional:
                        return False
                elif not field(item):
                    return False
            return True

        return check


def _unsupported(_value: Any) -> bool:
    return False


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_checks: dict[tuple[int, str, str], Check | None] = {}


def compiled(message_type: int, action: str, version: str) -> Check | None:
    """The compiled checks for this payload's schema, or None where only the library decides."""
    key = (message_type, action, version)
    if key not in _checks:
        check: Check | None = None
        if not (version == "1.6" and (message_type, action) in _DECIMAL_1_6):
            try:
                schema = get_validator(message_type, action, version).schema
                check = _Compiler(schema).compile(schema)
            except (Unsupported, OSError, ValueError):
                check = None
        _checks[key] = check
    return _checks[key]


async def validate_call(unique_id: str, action: str, payload: dict[str, Any], version: str) -> None:
    """Raise the library's OCPPError if a CALL's payload breaks its schema."""
    check = compiled(MessageType.Call, action, version)
    if check is None or not check(payload):
        await validate_payload(Call(unique_id, action, payload), version)


async def validate_result(
    unique_id: str, action: str, payload: dict[str, Any], version: str
) -> None:
    """Raise the library's OCPPError if a CALLRESULT's payload breaks its schema."""
    check = compiled(MessageType.CallResult, action, version)
    if check is None or not check(payload):
        await validate_payload(CallResult(unique_id, payload, action), version)

"""The compiled schema checks (chargegate.ocpp.validation) never accept what the `ocpp`
library's Draft4Validator refuses, and do accept ordinary valid payloads (else every frame would
take the slow path and the speed-up would be gone unnoticed).

For every schema of both versions, payloads are generated from the schema itself: mostly valid,
with wrong types, extra and missing keys, overlong strings, unknown enum values, booleans for
numbers, 1.0 for integers, NaN, and out-of-range numbers mixed in.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import ocpp
import pytest
from ocpp.messages import MessageType, get_validator

from chargegate.ocpp.validation import compiled

SCHEMAS = Path(ocpp.__file__).parent
VERSIONS = {"1.6": "v16", "2.0.1": "v201"}
HOT = ["Heartbeat", "StatusNotification", "MeterValues", "BootNotification"]


def schemas() -> list[tuple[int, str, str]]:
    found = []
    for version, folder in VERSIONS.items():
        for path in sorted((SCHEMAS / folder / "schemas").glob("*.json")):
            name = path.stem
            if name.endswith("Response"):
                found.append((MessageType.CallResult, name.removesuffix("Response"), version))
            elif version == "1.6":
                found.append((MessageType.Call, name, version))
            else:
                found.append((MessageType.Call, name.removesuffix("Request"), version))
    return found


class Generator:
    def __init__(self, root: dict[str, Any], rng: random.Random, wrong: float) -> None:
        self.definitions = root.get("definitions", {})
        self.rng = rng
        self.wrong = wrong

    def odd(self) -> Any:
        return self.rng.choice(
            [True, False, 1.0, 2**40, -1, math.nan, math.inf, "x" * 600, None, [], {}, "", 7]
        )

    def value(self, schema: dict[str, Any], depth: int = 0) -> Any:
        rng = self.rng
        if rng.random() < self.wrong:
            return self.odd()
        if "$ref" in schema:
            return self.value(self.definitions[schema["$ref"].rsplit("/", 1)[-1]], depth + 1)
        if "enum" in schema:
            return rng.choice([*schema["enum"], "NotAnEnumValue"] if self.wrong else schema["enum"])
        match schema.get("type"):
            case "object":
                result = {}
                required = set(schema.get("required", []))
                for key, sub in schema.get("properties", {}).items():
                    if key in required or rng.random() < 0.5:
                        result[key] = self.value(sub, depth + 1)
                if rng.random() < self.wrong:
                    result["unexpectedKey"] = 1
                if required and rng.random() < self.wrong:
                    result.pop(rng.choice(sorted(required)), None)
                return result
            case "array":
                low = schema.get("minItems", 0)
                high = schema.get("maxItems", low + 3)
                count = rng.randint(max(0, low - 1), high + 1) if self.wrong else low + 1
                return [self.value(schema.get("items", {}), depth + 1) for _ in range(count)]
            case "string":
                limit = schema.get("maxLength", 20)
                return "a" * rng.choice([0, 1, limit, limit + 1] if self.wrong else [1, limit])
            case "integer":
                return rng.choice([0, 1, 3, -5, 2**31])
            case "number":
                return rng.choice([0, 1.5, -2.25, 10**6, 0.1])
            case "boolean":
                return rng.choice([True, False])
            case _:
                return self.odd()


@pytest.mark.parametrize(("message_type", "action", "version"), schemas())
def test_compiled_checks_are_never_looser_than_the_library(
    message_type: int, action: str, version: str
) -> None:
    check = compiled(message_type, action, version)
    if check is None:
        return
    validator = get_validator(message_type, action, version)
    rng = random.Random(f"{message_type}{action}{version}")
    for wrong in (0.0, 0.02, 0.1, 0.3):
        generator = Generator(validator.schema, rng, wrong)
        for _ in range(60):
            payload = generator.value(validator.schema)
            if check(payload):
                assert validator.is_valid(payload), (action, version, payload)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("action", HOT)
def test_the_frequent_messages_take_the_compiled_path(action: str, version: str) -> None:
    for message_type in (MessageType.Call, MessageType.CallResult):
        check = compiled(message_type, action, version)
        assert check is not None, (action, version, message_type)
        schema = get_validator(message_type, action, version).schema
        payload = Generator(schema, random.Random(0), 0.0).value(schema)
        assert get_validator(message_type, action, version).is_valid(payload)
        assert check(payload), (action, version, payload)


def test_most_schemas_are_compiled() -> None:
    found = schemas()
    covered = [key for key in found if compiled(*key) is not None]
    assert len(covered) >= 0.9 * len(found), sorted(set(found) - set(covered))

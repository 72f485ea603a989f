"""What a peer's frame may hold that the JSON schemas let through but nothing can store: text
with lone surrogates or NULs (cleaned, so the message is still handled), and integers beyond
the 32 bits OCPP gives an integer field (refused with a CALLERROR).

Both walks are iterative: json.loads accepts nesting deeper than Python's recursion limit. The
regexes are cheap pre-checks on the raw frame, so that ordinary frames are not walked.
"""

from __future__ import annotations

import re
from typing import Any

from chargegate.domain.charger_input import INT32, storable_text
from chargegate.ocpp.meter import METER_FIELDS

# Lone surrogates and NULs only arrive as escapes: raw ones are not UTF-8 or not valid JSON.
SUSPECT_TEXT = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")
# An integer beyond 32 bits has at least ten digits.
SUSPECT_INTEGER = re.compile(r"\d{10}")


def clean_strings(frame: Any) -> Any:
    """The parsed frame with every string (keys included) made storable, changed in place."""
    if isinstance(frame, str):
        return storable_text(frame)
    stack = [frame]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = storable_text(item)
                elif isinstance(item, list | dict):
                    stack.append(item)
        elif isinstance(node, dict):
            pairs = list(node.items())
            node.clear()
            for key, value in pairs:
                node[storable_text(key)] = storable_text(value) if isinstance(value, str) else value
                if isinstance(value, list | dict):
                    stack.append(value)
    return frame


def beyond_int32(payload: dict[str, Any], schema: dict[str, Any]) -> str | None:
    """The path of a field the schema calls an integer whose value is beyond 32 bits, if any.
    Meter readings are left to ocpp.meter, which skips them: refusing a start or a stop for its
    meter reading would leave the transaction unrecorded."""
    definitions = schema.get("definitions", {})
    stack: list[tuple[Any, dict[str, Any], str]] = [(payload, schema, "")]
    while stack:
        value, node, path = stack.pop()
        while "$ref" in node:  # 2.0.1 schemas refer to "#/definitions/<Type>"
            node = definitions[node["$ref"].rsplit("/", 1)[-1]]
        if isinstance(value, dict):
            properties = node.get("properties", {})
            stack.extend(
                (item, properties[key], f"{path}.{key}" if path else key)
                for key, item in value.items()
                if key in properties and key not in METER_FIELDS
            )
        elif isinstance(value, list) and isinstance(node.get("items"), dict):
            stack.extend((item, node["items"], f"{path}[{i}]") for i, item in enumerate(value))
        elif (
            node.get("type") == "integer"
            and isinstance(value, int)
            and not isinstance(value, bool)
            and value not in INT32
        ):
            return path
    return None

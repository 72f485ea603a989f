"""A charger's configuration as the API names it: 1.6 configuration keys, 2.0.1 device-model
variables written as one key each, and the params of get_configuration and change_configuration.

A 2.0.1 variable is named `Component.Variable`, with the optional parts of its address written
in: `Component:instance@evse/connector.Variable:instance` (e.g. `EVSE@1.Power`,
`OCPPCommCtrlr.MessageTimeout:Default`). One string per variable keeps one key form for both
versions, in params, results and the cache alike; names holding `.`, `:`, `@` or `/` (which the
standard's never do) cannot be written this way. Only the Actual attribute is read and set."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from chargegate.domain.errors import InvalidArgument

# OCPP 1.6 ChangeConfiguration: key CiString50, value CiString500 (GetConfiguration keys too).
KEY_MAX_16 = 50
VALUE_MAX_16 = 500
# OCPP 2.0.1 SetVariableData.attributeValue; component and variable names are CiString50.
VALUE_MAX_201 = 1000
NAME_MAX_201 = 50
# What one command may name; a key as we store it (a 2.0.1 address with all its parts).
KEYS_MAX = 100
KEY_MAX = 255

_NAME = r"[^.:@/]+"
_VARIABLE_KEY = re.compile(
    rf"(?P<component>{_NAME})(?::(?P<component_instance>{_NAME}))?"
    r"(?:@(?P<evse>\d+)(?:/(?P<connector>\d+))?)?"
    rf"\.(?P<variable>{_NAME})(?::(?P<variable_instance>{_NAME}))?"
)


@dataclass(frozen=True, slots=True)
class ConfigEntry:
    key: str
    # None: the charger did not say (a write-only key, a variable read without its mutability).
    value: str | None
    readonly: bool | None


@dataclass(frozen=True, slots=True)
class ConfigRead:
    """What a charger answered to a read: its keys, and those asked for that it does not have."""

    entries: tuple[ConfigEntry, ...]
    unknown: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VariableKey:
    """A 2.0.1 variable's address."""

    component: str
    variable: str
    component_instance: str | None = None
    evse: int | None = None
    connector: int | None = None
    variable_instance: str | None = None

    @property
    def text(self) -> str:
        component = self.component
        if self.component_instance is not None:
            component += f":{self.component_instance}"
        if self.evse is not None:
            component += f"@{self.evse}"
            if self.connector is not None:
                component += f"/{self.connector}"
        variable = self.variable
        if self.variable_instance is not None:
            variable += f":{self.variable_instance}"
        return f"{component}.{variable}"


def variable_key(text: str) -> VariableKey | None:
    """The address a key names, None if it names none."""
    found = _VARIABLE_KEY.fullmatch(text)
    if found is None:
        return None
    names = (found["component"], found["component_instance"], found["variable"])
    if any(name is not None and len(name) > NAME_MAX_201 for name in names):
        return None
    if found["variable_instance"] is not None and len(found["variable_instance"]) > NAME_MAX_201:
        return None
    return VariableKey(
        component=found["component"],
        variable=found["variable"],
        component_instance=found["component_instance"],
        evse=None if found["evse"] is None else int(found["evse"]),
        connector=None if found["connector"] is None else int(found["connector"]),
        variable_instance=found["variable_instance"],
    )


@dataclass(frozen=True, slots=True)
class GetConfigurationParams:
    # The keys to read; None: all of them (1.6 every key, 2.0.1 a full base report).
    keys: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ChangeConfigurationParams:
    # Key -> new value: one in 1.6 (ChangeConfiguration), one or several in 2.0.1 (SetVariables).
    values: dict[str, str]


def parse_get(raw: Mapping[str, object]) -> GetConfigurationParams:
    keys = raw.get("keys")
    if keys is None:
        return GetConfigurationParams()
    if not isinstance(keys, list) or not keys or len(keys) > KEYS_MAX:
        raise InvalidArgument(
            f"keys must be a list of 1 to {KEYS_MAX} keys (leave it out to read all of them)"
        )
    return GetConfigurationParams(tuple(_key(key) for key in keys))


def parse_change(raw: Mapping[str, object]) -> ChangeConfigurationParams:
    """{"key", "value"} for one key, or {"values": {key: value, ...}} for several."""
    several = raw.get("values")
    if several is not None and ("key" in raw or "value" in raw):
        raise InvalidArgument("Give either key and value, or values, not both")
    if several is None:
        if "key" not in raw or "value" not in raw:
            raise InvalidArgument("Missing param: key and value (or values, for several)")
        return ChangeConfigurationParams({_key(raw["key"]): _value(raw["value"])})
    if not isinstance(several, dict) or not several or len(several) > KEYS_MAX:
        raise InvalidArgument(f"values must be an object of 1 to {KEYS_MAX} keys and values")
    return ChangeConfigurationParams({_key(key): _value(value) for key, value in several.items()})


def refuses_get(params: GetConfigurationParams, ocpp16: bool) -> str | None:
    """Why a charger of this version cannot be asked for these keys (None: it can)."""
    return None if params.keys is None else _refuses_keys(params.keys, ocpp16)


def refuses_change(params: ChangeConfigurationParams, ocpp16: bool) -> str | None:
    """Why a charger of this version cannot be sent these values (None: it can)."""
    if ocpp16 and len(params.values) > 1:
        return "one key at a time (ChangeConfiguration takes one)"
    longest = VALUE_MAX_16 if ocpp16 else VALUE_MAX_201
    for key, value in params.values.items():
        if len(value) > longest:
            return f"the value of {key} is over {longest} characters"
    return _refuses_keys(tuple(params.values), ocpp16)


def _refuses_keys(keys: tuple[str, ...], ocpp16: bool) -> str | None:
    for key in keys:
        if ocpp16 and len(key) > KEY_MAX_16:
            return f"key {key[:KEY_MAX_16]}... is over {KEY_MAX_16} characters"
        if not ocpp16 and variable_key(key) is None:
            return (
                f"key {key} names no variable: write Component.Variable (with optional "
                "parts: Component:instance@evse/connector.Variable:instance)"
            )
    return None


def _key(key: object) -> str:
    if not isinstance(key, str) or not 0 < len(key) <= KEY_MAX:
        raise InvalidArgument(f"A key must be a string of 1 to {KEY_MAX} characters")
    return key


def _value(value: object) -> str:
    if not isinstance(value, str) or len(value) > VALUE_MAX_201:
        raise InvalidArgument(f"A value must be a string of at most {VALUE_MAX_201} characters")
    return value

"""The parameters of each command on a charger (ChargerAction), and what each OCPP version
offers: read once from the API's `params` into a frozen value, stored as JSON in the outbox and
read back the same way when the command goes out.

Adding an action: a ChargerAction member, its params type in CommandParams (None for none), and
an arm in each match below (and in each version's ocpp/*/orders.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, TypeAlias, TypeVar, assert_never

from chargegate.domain import configuration
from chargegate.domain.configuration import ChangeConfigurationParams, GetConfigurationParams
from chargegate.domain.errors import InvalidArgument
from chargegate.domain.states import ChargerAction

# The WebSocket subprotocols, as chargers.ocpp_version holds them.
OCPP16 = "ocpp1.6"
OCPP201 = "ocpp2.0.1"

E = TypeVar("E", bound=StrEnum)


class ResetKind(StrEnum):
    # OCPP 1.6 Reset: Soft ends transactions and restarts gracefully, Hard restarts at once.
    SOFT = "soft"
    HARD = "hard"
    # OCPP 2.0.1 Reset: Immediate ends transactions and resets, OnIdle waits until none runs.
    # Neither version's pair is the other's (a soft reset ends transactions, OnIdle does not),
    # so each version takes only its own.
    IMMEDIATE = "immediate"
    ON_IDLE = "on_idle"


@dataclass(frozen=True, slots=True)
class ResetParams:
    type: ResetKind
    # 2.0.1 only: reset this EVSE rather than the whole station.
    evse: int | None = None


# One dataclass per action that takes parameters; None for those that take none.
CommandParams: TypeAlias = ResetParams | GetConfigurationParams | ChangeConfigurationParams | None


def parse_params(action: ChargerAction, raw: Mapping[str, object]) -> CommandParams:
    """An action's params from the API (or from the outbox, which holds them as to_json wrote
    them); InvalidArgument names what is wrong."""
    match action:
        case (
            ChargerAction.CLEAR_CACHE
            | ChargerAction.GET_LOCAL_LIST_VERSION
            | ChargerAction.SEND_LOCAL_LIST
        ):
            reject_unknown_params(action, raw, ())
            return None
        case ChargerAction.RESET:
            reject_unknown_params(action, raw, ("type", "evse"))
            return ResetParams(
                type=choice(raw, "type", ResetKind), evse=optional_int(raw, "evse", minimum=1)
            )
        case ChargerAction.GET_CONFIGURATION:
            reject_unknown_params(action, raw, ("keys",))
            return configuration.parse_get(raw)
        case ChargerAction.CHANGE_CONFIGURATION:
            reject_unknown_params(action, raw, ("key", "value", "values"))
            return configuration.parse_change(raw)
        case _:
            assert_never(action)


def to_json(params: CommandParams) -> dict[str, Any] | None:
    """Params as the outbox stores them: the API's field names, absent ones left out."""
    if params is None:
        return None
    values = {field.name: getattr(params, field.name) for field in fields(params)}
    return {name: value for name, value in values.items() if value is not None}


def from_json(action: ChargerAction, stored: Mapping[str, object] | None) -> CommandParams:
    """Params as the outbox stored them (validated when they came in)."""
    return parse_params(action, stored or {})


def version_has(action: ChargerAction, subprotocol: str) -> bool:
    """Whether a charger speaking this OCPP version (its WebSocket subprotocol) has the action."""
    match action:
        case (
            ChargerAction.CLEAR_CACHE
            | ChargerAction.GET_LOCAL_LIST_VERSION
            | ChargerAction.SEND_LOCAL_LIST
            | ChargerAction.RESET
        ):
            return subprotocol in (OCPP16, OCPP201)
        case ChargerAction.GET_CONFIGURATION | ChargerAction.CHANGE_CONFIGURATION:
            return subprotocol in (OCPP16, OCPP201)
        case _:
            assert_never(action)


def version_refuses(params: CommandParams, subprotocol: str) -> str | None:
    """Why these params do not fit a charger of this version (None: they do)."""
    match params:
        case None:
            return None
        case ResetParams(type=kind, evse=evse):
            if subprotocol == OCPP16 and kind not in (ResetKind.SOFT, ResetKind.HARD):
                return "type must be soft or hard"
            if subprotocol == OCPP16 and evse is not None:
                return "evse is not taken (a reset is of the whole charger)"
            if subprotocol == OCPP201 and kind not in (ResetKind.IMMEDIATE, ResetKind.ON_IDLE):
                return (
                    "type must be immediate (ends transactions, then resets) or on_idle "
                    "(resets once no transaction runs)"
                )
            return None
        case GetConfigurationParams():
            return configuration.refuses_get(params, subprotocol == OCPP16)
        case ChangeConfigurationParams():
            return configuration.refuses_change(params, subprotocol == OCPP16)
        case _:
            assert_never(params)


def check_version(action: ChargerAction, params: CommandParams, subprotocol: str | None) -> None:
    """InvalidArgument naming the version when a charger of it cannot take this command. A
    charger not seen yet (no version) may speak either."""
    if subprotocol is None:
        return
    if not version_has(action, subprotocol):
        raise InvalidArgument(f"{version_name(subprotocol)} has no {action} command")
    why = version_refuses(params, subprotocol)
    if why is not None:
        raise InvalidArgument(f"{action} on an {version_name(subprotocol)} charger: {why}")


def idempotent(action: ChargerAction) -> bool:
    """Whether doing it twice is the same as doing it once: such a command, sent before a crash
    and not answered, goes out again; any other fails, since it may or may not have been done."""
    match action:
        case (
            ChargerAction.CLEAR_CACHE
            | ChargerAction.GET_LOCAL_LIST_VERSION
            | ChargerAction.SEND_LOCAL_LIST
        ):
            return True
        # Reading twice reads the same; setting a value twice leaves it as once.
        case ChargerAction.GET_CONFIGURATION | ChargerAction.CHANGE_CONFIGURATION:
            return True
        case ChargerAction.RESET:
            return False
        case _:
            assert_never(action)


def version_name(subprotocol: str) -> str:
    """OCPP 1.6 for ocpp1.6."""
    return f"OCPP {subprotocol.removeprefix('ocpp')}"


def reject_unknown_params(
    action: ChargerAction, raw: Mapping[str, object], allowed: tuple[str, ...]
) -> None:
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        takes = f"takes: {', '.join(allowed)}" if allowed else "takes no params"
        raise InvalidArgument(f"Unknown param(s): {', '.join(unknown)}. {action} {takes}")


def choice(raw: Mapping[str, object], name: str, kind: type[E]) -> E:
    """A required param that is one of an enum's values."""
    allowed = ", ".join(member.value for member in kind)
    value = raw.get(name)
    if value is None:
        raise InvalidArgument(f"Missing param: {name} (one of: {allowed})")
    if not isinstance(value, str) or value not in {member.value for member in kind}:
        raise InvalidArgument(f"{name} must be one of: {allowed}")
    return kind(value)


def optional_int(raw: Mapping[str, object], name: str, *, minimum: int) -> int | None:
    """An optional whole-number param, at least `minimum` (and an OCPP integer)."""
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value < 2**31:
        raise InvalidArgument(f"{name} must be a whole number of at least {minimum}")
    return value

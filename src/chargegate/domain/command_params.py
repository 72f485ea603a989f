"""The parameters of each command on a charger (ChargerAction), and what each OCPP version
offers: read once from the API's `params` into a frozen value, stored as JSON in the outbox and
read back the same way when the command goes out.

Adding an action: a ChargerAction member, its params type in CommandParams (None for none), and
an arm in each match below (and in each version's ocpp/*/orders.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias, TypeVar, assert_never

from ocpp.v16.enums import MessageTrigger
from ocpp.v201.enums import MessageTriggerEnumType

from chargegate.domain import charging_profiles, configuration, file_transfers
from chargegate.domain.charger_input import is_plain_text
from chargegate.domain.charging_profiles import (
    ClearProfileParams,
    CompositeParams,
    SetProfileParams,
)
from chargegate.domain.configuration import ChangeConfigurationParams, GetConfigurationParams
from chargegate.domain.errors import InvalidArgument
from chargegate.domain.file_transfers import DiagnosticsParams, FirmwareParams
from chargegate.domain.states import ChargerAction
from chargegate.domain.times import format_ocpp

# The WebSocket subprotocols, as chargers.ocpp_version holds them.
OCPP16 = "ocpp1.6"
OCPP201 = "ocpp2.0.1"

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")


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


@dataclass(frozen=True, slots=True)
class UnlockParams:
    port: int


@dataclass(frozen=True, slots=True)
class AvailabilityParams:
    operative: bool
    # 0: the whole charger.
    port: int = 0


@dataclass(frozen=True, slots=True)
class TriggerParams:
    # A 1.6 MessageTrigger or 2.0.1 MessageTriggerEnumType name.
    message: str
    port: int | None = None


@dataclass(frozen=True, slots=True)
class DataTransferParams:
    vendor_id: str
    message_id: str | None = None
    # Any JSON in 2.0.1; 1.6 carries text only.
    data: Any = None


# One dataclass per action that takes parameters; None for those that take none.
CommandParams: TypeAlias = (
    ResetParams
    | UnlockParams
    | AvailabilityParams
    | TriggerParams
    | DataTransferParams
    | FirmwareParams
    | DiagnosticsParams
    | GetConfigurationParams
    | ChangeConfigurationParams
    | SetProfileParams
    | ClearProfileParams
    | CompositeParams
    | None
)

# The messages a charger can be asked to send: 1.6 core (its MessageTrigger enum also names
# the security extension's, which a plain 1.6 charger does not know), and 2.0.1.
TRIGGERS_16 = frozenset(
    {
        MessageTrigger.boot_notification,
        MessageTrigger.diagnostics_status_notification,
        MessageTrigger.firmware_status_notification,
        MessageTrigger.heartbeat,
        MessageTrigger.meter_values,
        MessageTrigger.status_notification,
    }
)
TRIGGERS_201 = frozenset(MessageTriggerEnumType)
# OCPP's CiString255 (vendorId) and CiString50 (messageId).
VENDOR_ID_MAX = 255
MESSAGE_ID_MAX = 50


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
        case ChargerAction.UPDATE_FIRMWARE:
            reject_unknown_params(
                action,
                raw,
                (
                    "location",
                    "retrieve_date",
                    "retries",
                    "retry_interval",
                    "signing_certificate",
                    "signature",
                ),
            )
            return FirmwareParams(
                location=file_transfers.location(raw),
                retrieve_date=file_transfers.optional_time(raw, "retrieve_date"),
                retries=optional_int(raw, "retries", minimum=0),
                retry_interval=optional_int(raw, "retry_interval", minimum=0),
                signing_certificate=file_transfers.optional_text(
                    raw, "signing_certificate", file_transfers.SIGNING_CERTIFICATE_MAX
                ),
                signature=file_transfers.optional_text(
                    raw, "signature", file_transfers.SIGNATURE_MAX
                ),
            )
        case ChargerAction.GET_DIAGNOSTICS:
            reject_unknown_params(
                action, raw, ("location", "start_time", "stop_time", "retries", "retry_interval")
            )
            return file_transfers.check_span(
                DiagnosticsParams(
                    location=file_transfers.location(raw),
                    start_time=file_transfers.optional_time(raw, "start_time"),
                    stop_time=file_transfers.optional_time(raw, "stop_time"),
                    retries=optional_int(raw, "retries", minimum=0),
                    retry_interval=optional_int(raw, "retry_interval", minimum=0),
                )
            )
        case ChargerAction.UNLOCK_CONNECTOR:
            reject_unknown_params(action, raw, ("port",))
            return UnlockParams(port=required(optional_int(raw, "port", minimum=1), "port"))
        case ChargerAction.CHANGE_AVAILABILITY:
            reject_unknown_params(action, raw, ("port", "operative"))
            operative = raw.get("operative")
            if not isinstance(operative, bool):
                raise InvalidArgument("operative must be given, true or false")
            port = optional_int(raw, "port", minimum=0)
            return AvailabilityParams(operative=operative, port=port or 0)
        case ChargerAction.TRIGGER_MESSAGE:
            reject_unknown_params(action, raw, ("message", "port"))
            return TriggerParams(
                message=choice(raw, "message", sorted(TRIGGERS_16 | TRIGGERS_201)),
                port=optional_int(raw, "port", minimum=1),
            )
        case ChargerAction.DATA_TRANSFER:
            reject_unknown_params(action, raw, ("vendor_id", "message_id", "data"))
            vendor_id = required(text(raw, "vendor_id", VENDOR_ID_MAX), "vendor_id")
            return DataTransferParams(
                vendor_id=vendor_id,
                message_id=text(raw, "message_id", MESSAGE_ID_MAX),
                data=raw.get("data"),
            )
        case ChargerAction.GET_CONFIGURATION:
            reject_unknown_params(action, raw, ("keys",))
            return configuration.parse_get(raw)
        case ChargerAction.CHANGE_CONFIGURATION:
            reject_unknown_params(action, raw, ("key", "value", "values"))
            return configuration.parse_change(raw)
        case ChargerAction.SET_CHARGING_PROFILE:
            reject_unknown_params(action, raw, charging_profiles.SET_PARAMS)
            return charging_profiles.parse_set(raw)
        case ChargerAction.CLEAR_CHARGING_PROFILE:
            reject_unknown_params(action, raw, charging_profiles.CLEAR_PARAMS)
            return charging_profiles.parse_clear(raw)
        case ChargerAction.GET_COMPOSITE_SCHEDULE:
            reject_unknown_params(action, raw, charging_profiles.COMPOSITE_PARAMS)
            return charging_profiles.parse_composite(raw)
        case _:
            assert_never(action)


def to_json(params: CommandParams) -> dict[str, Any] | None:
    """Params as the outbox stores them: the API's field names, absent ones left out."""
    if params is None:
        return None
    return _as_json(params)


def _as_json(value: Any) -> dict[str, Any]:
    values = {field.name: getattr(value, field.name) for field in fields(value)}
    return {name: _stored(item) for name, item in values.items() if item is not None}


def _stored(value: object) -> object:
    # Times as the API takes them, so that parse_params reads them back; a profile's periods
    # as the list of objects the API takes; a list of keys as a list.
    if isinstance(value, datetime):
        return format_ocpp(value)
    if isinstance(value, tuple):
        return [_as_json(item) if is_dataclass(item) else item for item in value]
    return value


def from_json(action: ChargerAction, stored: object) -> CommandParams:
    """Params as the outbox stored them (validated when they came in); InvalidArgument if they
    no longer parse (written by another version, or edited by hand), naming what is wrong."""
    if stored is None:
        stored = {}
    if not isinstance(stored, Mapping):
        raise InvalidArgument("the stored params are not an object")
    try:
        return parse_params(action, stored)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise InvalidArgument(f"the stored params do not parse ({type(exc).__name__})") from exc


def version_has(action: ChargerAction, subprotocol: str) -> bool:
    """Whether a charger speaking this OCPP version (its WebSocket subprotocol) has the action."""
    match action:
        case (
            ChargerAction.CLEAR_CACHE
            | ChargerAction.GET_LOCAL_LIST_VERSION
            | ChargerAction.SEND_LOCAL_LIST
            | ChargerAction.RESET
            | ChargerAction.UNLOCK_CONNECTOR
            | ChargerAction.CHANGE_AVAILABILITY
            | ChargerAction.TRIGGER_MESSAGE
            | ChargerAction.DATA_TRANSFER
        ):
            return subprotocol in (OCPP16, OCPP201)
        case (
            ChargerAction.UPDATE_FIRMWARE
            | ChargerAction.GET_DIAGNOSTICS
            | ChargerAction.GET_CONFIGURATION
            | ChargerAction.CHANGE_CONFIGURATION
            | ChargerAction.SET_CHARGING_PROFILE
            | ChargerAction.CLEAR_CHARGING_PROFILE
            | ChargerAction.GET_COMPOSITE_SCHEDULE
        ):
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
        case FirmwareParams() | DiagnosticsParams():
            if subprotocol == OCPP16:
                return file_transfers.refusal_16(params)
            return file_transfers.refusal_201(params)
        case TriggerParams(message=message):
            offered = TRIGGERS_16 if subprotocol == OCPP16 else TRIGGERS_201
            if message not in offered:
                return f"message must be one of: {', '.join(sorted(offered))}"
            return None
        case DataTransferParams(data=data):
            if subprotocol == OCPP16 and data is not None and not isinstance(data, str):
                return "data must be text (1.6 DataTransfer carries a string)"
            return None
        case UnlockParams() | AvailabilityParams():
            return None
        case GetConfigurationParams():
            return configuration.refuses_get(params, subprotocol == OCPP16)
        case ChangeConfigurationParams():
            return configuration.refuses_change(params, subprotocol == OCPP16)
        case SetProfileParams(purpose=purpose, transaction_id=transaction):
            return charging_profiles.refusal(purpose, transaction, subprotocol == OCPP16)
        case ClearProfileParams(purpose=purpose):
            return charging_profiles.refusal(purpose, None, subprotocol == OCPP16)
        case CompositeParams():
            return None
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
            | ChargerAction.UNLOCK_CONNECTOR
            | ChargerAction.CHANGE_AVAILABILITY
            | ChargerAction.TRIGGER_MESSAGE
        ):
            return True
        case ChargerAction.RESET | ChargerAction.DATA_TRANSFER:
            # A reset twice reboots twice (ending what began in between); a vendor's message
            # may mean anything.
            return False
        # A second download and install (or upload) is not the first one over again: an
        # unanswered one may be under way.
        case ChargerAction.UPDATE_FIRMWARE | ChargerAction.GET_DIAGNOSTICS:
            return False
        # Reading twice reads the same; setting a value twice leaves it as once.
        case ChargerAction.GET_CONFIGURATION | ChargerAction.CHANGE_CONFIGURATION:
            return True
        # A profile installed twice under one id replaces itself; clearing twice clears once;
        # a schedule read twice reads the same.
        case (
            ChargerAction.SET_CHARGING_PROFILE
            | ChargerAction.CLEAR_CHARGING_PROFILE
            | ChargerAction.GET_COMPOSITE_SCHEDULE
        ):
            return True
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


def choice(raw: Mapping[str, object], name: str, kind: Iterable[E]) -> E:
    """A required param that is one of these values (an enum's, or some of them)."""
    members = {member.value: member for member in kind}
    allowed = ", ".join(members)
    value = raw.get(name)
    if value is None:
        raise InvalidArgument(f"Missing param: {name} (one of: {allowed})")
    if not isinstance(value, str) or value not in members:
        raise InvalidArgument(f"{name} must be one of: {allowed}")
    return members[value]


def required(value: T | None, name: str) -> T:
    if value is None:
        raise InvalidArgument(f"Missing param: {name}")
    return value


def text(raw: Mapping[str, object], name: str, longest: int) -> str | None:
    """An optional param of plain text, at most `longest` characters."""
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= longest or not is_plain_text(value):
        raise InvalidArgument(f"{name} must be text of 1 to {longest} characters")
    return value


def optional_int(raw: Mapping[str, object], name: str, *, minimum: int) -> int | None:
    """An optional whole-number param, at least `minimum` (and an OCPP integer)."""
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value < 2**31:
        raise InvalidArgument(f"{name} must be a whole number of at least {minimum}")
    return value

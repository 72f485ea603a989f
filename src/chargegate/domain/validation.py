"""Reading API arguments into precise types, with messages that say what to fix."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from chargegate.domain import charging_profiles
from chargegate.domain.charger_input import is_plain_text
from chargegate.domain.charging_profiles import ChargingLimit
from chargegate.domain.command_params import CommandParams, parse_params
from chargegate.domain.cursors import PageMark, PortMark
from chargegate.domain.errors import InvalidArgument
from chargegate.domain.id_tags import ID_TAG_16_MAX, parse_id_tag
from chargegate.domain.states import ChargerAction, StagingInput, TransactionState
from chargegate.domain.times import TimeFormatError, format_api, parse_utc

INVOICE_ID_MAX = 255
LIMIT_ALL_ABOVE = 2**31 - 1
# A start's priority on its site (0, the default, to this).
PRIORITY_MAX = 100
_INT = re.compile(r"-?\d+")


@dataclass(frozen=True, slots=True)
class CreateRequest:
    port_uuid: str
    expires: datetime
    invoice_id: str | None
    staging: bool
    # The driver's own token, which the charger is started with; None: one is generated.
    id_tag: str | None = None
    # A limit for the session (max_current_a or max_power_w), carried as its TxProfile.
    limit: ChargingLimit | None = None
    # Its place in its site's queue for room (services.sites): higher first.
    priority: int = 0


@dataclass(frozen=True, slots=True)
class PatchRequest:
    """Exactly one of `expires` and `close` is set."""

    expires: datetime | None
    close: bool
    staging: bool
    # With close: give up on a stop the charger does not take, and close without its word.
    force: bool = False


@dataclass(frozen=True, slots=True)
class ListRequest:
    """A port's transactions, or a token's (id_tag), or a token's on one port: at least one of
    the two is set."""

    port_uuid: str | None
    limit: int
    staging: bool
    id_tag: str | None = None
    # Beyond the seed: a page after `cursor`, and filters on creation time and state.
    after: PageMark | None = None
    since: datetime | None = None
    until: datetime | None = None
    state: TransactionState | None = None


@dataclass(frozen=True, slots=True)
class PortsRequest:
    """GET /1.2/ports: every port (limit 0, the default), or a page after `after`."""

    limit: int = 0
    after: PortMark | None = None


@dataclass(frozen=True, slots=True)
class QueueRequest:
    staging: bool
    staging_input: StagingInput | None


def parse_uuid(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{field} must be a string holding a UUID")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidArgument(
            f"{field} '{value}' is not a valid UUID (expected e.g. "
            "f1985d47-a946-4400-ba52-c00bb0c2cc0f)"
        ) from None


def parse_expires(value: object, now: datetime) -> datetime:
    if not isinstance(value, str):
        raise InvalidArgument(
            "expires must be a string: an ISO 8601 timestamp in UTC, e.g. 2030-01-31T20:40:00+0000"
        )
    try:
        expires = parse_utc(value)
    except TimeFormatError as exc:
        raise InvalidArgument(f"expires: {exc}") from None
    if expires <= now:
        raise InvalidArgument(
            "Expiry time must be in the future. Please ensure the time you have entered is in "
            "the correct timezone (UTC) and try again. "
            f"Current UTC time is {format_api(now)}. Received UTC time is {expires}."
        )
    return expires


def merge_query(body: Mapping[str, object], query: Mapping[str, str]) -> dict[str, object]:
    """Arguments of a GET may come in a JSON body (as the seed shows) or as query parameters.

    Query values are text; the few typed ones are converted so that the same validation serves
    both. The body wins where both name a field.
    """
    merged: dict[str, object] = {}
    for key, text in query.items():
        merged[key] = _from_query_text(key, text)
    merged.update(body)
    return merged


def _from_query_text(key: str, text: str) -> object:
    if key == "stg" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if key == "limit" and _INT.fullmatch(text):
        return int(text)
    return text


def require_object(body: object) -> Mapping[str, object]:
    if not isinstance(body, dict):
        raise InvalidArgument("The request body must be a JSON object")
    return body


@dataclass(frozen=True, slots=True)
class CommandRequest:
    action: ChargerAction
    params: CommandParams
    staging: bool
    # How long it may wait for an offline charger; None: the command timeout setting.
    expires: datetime | None = None


def parse_command(body: Mapping[str, object], now: datetime) -> CommandRequest:
    reject_unknown(body, ("action", "params", "command", "stg", "expires"))
    allowed = ", ".join(action.value for action in ChargerAction)
    if "action" in body and "command" in body:
        raise InvalidArgument("Send action, not both action and command (its deprecated alias)")
    name = "command" if "command" in body else "action"
    raw = body.get(name)
    if raw is None:
        raise InvalidArgument(f"Missing field: action (one of: {allowed})")
    if not isinstance(raw, str) or raw not in {action.value for action in ChargerAction}:
        raise InvalidArgument(f"{name} must be one of: {allowed}")
    action = ChargerAction(raw)
    params = body.get("params")
    if params is not None and not isinstance(params, dict):
        raise InvalidArgument("params must be a JSON object")
    expires = body.get("expires")
    return CommandRequest(
        action=action,
        params=parse_params(action, params or {}),
        staging=parse_staging(body),
        expires=None if expires is None else parse_expires(expires, now),
    )


def reject_unknown(body: Mapping[str, object], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidArgument(
            f"Unknown field(s): {', '.join(unknown)}. Allowed fields: {', '.join(allowed)}"
        )


def parse_staging(body: Mapping[str, object]) -> bool:
    value = body.get("stg", False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidArgument("stg must be a boolean (true or false)")
    return value


CREATE_FIELDS = (
    "port_uuid",
    "expires",
    "invoice_id",
    "stg",
    "id_tag",
    "max_current_a",
    "max_power_w",
    "priority",
)


def parse_create(body: Mapping[str, object], now: datetime) -> CreateRequest:
    reject_unknown(body, CREATE_FIELDS)
    missing = [name for name in ("port_uuid", "expires") if body.get(name) is None]
    if missing:
        raise InvalidArgument(f"Missing field(s): {', '.join(missing)}")
    invoice_id = body.get("invoice_id")
    if invoice_id is not None and not isinstance(invoice_id, str):
        raise InvalidArgument("invoice_id must be a string")
    if invoice_id is not None and len(invoice_id) > INVOICE_ID_MAX:
        raise InvalidArgument(f"invoice_id must be at most {INVOICE_ID_MAX} characters")
    # PostgreSQL text cannot hold NUL; a reference has no use for the other controls.
    if invoice_id is not None and not is_plain_text(invoice_id):
        raise InvalidArgument(
            "invoice_id must not hold control characters (U+0000-U+001F, U+007F) or lone surrogates"
        )
    return CreateRequest(
        port_uuid=parse_uuid(body["port_uuid"], "port_uuid"),
        expires=parse_expires(body["expires"], now),
        invoice_id=invoice_id,
        staging=parse_staging(body),
        id_tag=None if body.get("id_tag") is None else _driver_id_tag(body["id_tag"]),
        limit=charging_profiles.start_limit(body),
        priority=_priority(body.get("priority")),
    )


def _priority(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= PRIORITY_MAX:
        raise InvalidArgument(f"priority must be an integer from 0 to {PRIORITY_MAX}")
    return value


def _driver_id_tag(value: object) -> str:
    """A driver's token to start with: a token, short enough for an OCPP 1.6 idTag (CiString20),
    since a port's charger may speak 1.6 (or be moved to a 1.6 one) when the start goes out."""
    id_tag = parse_id_tag(value)
    if len(id_tag) > ID_TAG_16_MAX:
        raise InvalidArgument(
            f"id_tag must be at most {ID_TAG_16_MAX} characters: it is sent to the charger as an "
            "OCPP 1.6 idTag (CiString20)"
        )
    return id_tag


def parse_patch(body: Mapping[str, object], now: datetime) -> PatchRequest:
    reject_unknown(body, ("expires", "state", "stg", "force"))
    has_expires = body.get("expires") is not None
    has_state = body.get("state") is not None
    staging = parse_staging(body)
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise InvalidArgument("force must be a boolean (true or false)")
    if has_expires and has_state:
        raise InvalidArgument("Send either expires or state, not both: they are mutually exclusive")
    if force and not has_state:
        raise InvalidArgument("force goes with state: 'closed' (to give up on a stuck stop)")
    if has_state:
        state = body["state"]
        if not isinstance(state, str) or state.lower() != "closed":
            raise InvalidArgument("state can only be set to 'closed'")
        return PatchRequest(expires=None, close=True, staging=staging, force=force)
    if has_expires:
        return PatchRequest(
            expires=parse_expires(body["expires"], now), close=False, staging=staging
        )
    raise InvalidArgument("Missing field: send either expires (to extend) or state: 'closed'")


def parse_list(args: Mapping[str, object]) -> ListRequest:
    by_tag = args.get("id_tag") is not None
    if (args.get("port_uuid") is None and not by_tag) or args.get("limit") is None:
        missing = [name for name in ("port_uuid", "limit") if args.get(name) is None]
        if by_tag:
            missing.remove("port_uuid")
        raise InvalidArgument(f"Missing field(s): {', '.join(missing)}")
    return ListRequest(
        port_uuid=(
            None if args.get("port_uuid") is None else parse_uuid(args["port_uuid"], "port_uuid")
        ),
        id_tag=parse_id_tag(args["id_tag"]) if by_tag else None,
        limit=parse_limit(args["limit"], "the latest N"),
        staging=parse_staging(args),
        after=None if args.get("cursor") is None else PageMark.decode(_text(args, "cursor")),
        since=_optional_time(args, "since"),
        until=_optional_time(args, "until"),
        state=_optional_state(args),
    )


def parse_ports(args: Mapping[str, object]) -> PortsRequest:
    return PortsRequest(
        limit=0 if args.get("limit") is None else parse_limit(args["limit"], "a page of N"),
        after=None if args.get("cursor") is None else PortMark.decode(_text(args, "cursor")),
    )


def parse_limit(limit: object, positive: str) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidArgument(f"limit must be an integer: 0 for all, 1 or more for {positive}")
    if limit < 0:
        raise InvalidArgument("limit must be 0 (all) or a positive integer")
    # Beyond what any list will ever hold, a limit means "all" (and stays a database integer).
    return 0 if limit > LIMIT_ALL_ABOVE else limit


def _text(args: Mapping[str, object], name: str) -> str:
    value = args[name]
    if not isinstance(value, str):
        raise InvalidArgument(f"{name} must be a string")
    return value


def _optional_time(args: Mapping[str, object], name: str) -> datetime | None:
    if args.get(name) is None:
        return None
    try:
        return parse_utc(_text(args, name))
    except TimeFormatError as exc:
        raise InvalidArgument(f"{name}: {exc}") from None


def _optional_state(args: Mapping[str, object]) -> TransactionState | None:
    if args.get("state") is None:
        return None
    try:
        return TransactionState(_text(args, "state"))
    except ValueError:
        names = ", ".join(state.value for state in TransactionState)
        raise InvalidArgument(f"state must be one of {names}") from None


def parse_queue_args(args: Mapping[str, object]) -> QueueRequest:
    staging = parse_staging(args)
    raw = args.get("stg_input")
    if raw is None:
        return QueueRequest(staging=staging, staging_input=None)
    if not staging:
        raise InvalidArgument("stg_input is only allowed together with stg: true")
    allowed = [item.value for item in StagingInput]
    if raw not in allowed:
        raise InvalidArgument(f"stg_input must be one of: {', '.join(allowed)}")
    return QueueRequest(staging=True, staging_input=StagingInput(str(raw)))

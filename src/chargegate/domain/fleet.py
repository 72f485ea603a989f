"""Reading the API's (and the CLI's) requests about chargers and webhooks: one rule for both."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from chargegate.domain.charger_input import is_plain_text
from chargegate.domain.credentials import GENERATED_PASSWORD_PREFIX, is_generated_password
from chargegate.domain.cursors import ChargerMark, RowMark
from chargegate.domain.errors import InvalidArgument
from chargegate.domain.identity import InvalidChargePointId, check_charge_point_id
from chargegate.domain.validation import parse_limit, reject_unknown

# Ports per charger that the API (and `chargegate chargers add --connectors`) registers.
CONNECTORS_MAX = 32
# Longer would be no safer, and the handshake's Authorization header must carry it.
PASSWORD_MAX = 128
# Webhook addresses (services.webhook_targets checks what they point at).
URL_MAX = 2048


class OcppVersion(StrEnum):
    """The version a charger that offers several is spoken to in."""

    V16 = "1.6"
    V201 = "2.0.1"

    @property
    def subprotocol(self) -> str:
        return f"ocpp{self.value}"


class BadChargerPassword(InvalidArgument, ValueError):
    """A password no charger should have (the message says why)."""


def check_password(password: str) -> str:
    """A charger password given by a person (the API or the CLI), unchanged if usable."""
    if password == "":
        raise BadChargerPassword(
            "an empty password is no password: leave it out to have one generated"
        )
    if len(password) > PASSWORD_MAX or not is_plain_text(password):
        raise BadChargerPassword(
            f"password must be at most {PASSWORD_MAX} characters, without control characters"
        )
    if is_generated_password(password):
        # The form decides how a handshake checks a password (services.admission): a chosen one
        # in it would be stored fast and could be guessed offline from its hash.
        raise BadChargerPassword(
            f"a password may not start with {GENERATED_PASSWORD_PREFIX!r}: that prefix is kept "
            "for the passwords chargegate generates (leave it out to have one generated)"
        )
    return password


def check_id(charge_point_id: str) -> str:
    """The handshake's rule, as a 400."""
    try:
        return check_charge_point_id(charge_point_id)
    except InvalidChargePointId as exc:
        raise InvalidArgument(str(exc)) from None


@dataclass(frozen=True, slots=True)
class ChargerCreate:
    charge_point_id: str
    connectors: int
    # None: a generated one (returned once).
    password: str | None
    # None: the newest version the charger offers.
    ocpp_version: OcppVersion | None = None


@dataclass(frozen=True, slots=True)
class ChargerPatch:
    """The fields sent; `new_password` with `password` None: generate one."""

    new_password: bool = False
    password: str | None = None
    connectors: int | None = None
    disabled: bool | None = None


@dataclass(frozen=True, slots=True)
class ChargersRequest:
    limit: int = 0
    after: ChargerMark | None = None
    online: bool | None = None
    disabled: bool | None = None


@dataclass(frozen=True, slots=True)
class WebhooksRequest:
    limit: int = 0
    after: RowMark | None = None


def parse_connectors(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= CONNECTORS_MAX:
        raise InvalidArgument(f"connectors must be an integer from 1 to {CONNECTORS_MAX}")
    return value


def _password(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidArgument("password must be a string (or null to have one generated)")
    return check_password(value)


def _ocpp_version(value: object) -> OcppVersion | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in OcppVersion._value2member_map_:
        raise InvalidArgument(
            f"ocpp_version must be one of {', '.join(OcppVersion)} (or null for the newest offered)"
        )
    return OcppVersion(value)


def parse_charger_create(body: Mapping[str, object]) -> ChargerCreate:
    reject_unknown(body, ("charge_point_id", "connectors", "ocpp_version", "password"))
    missing = [name for name in ("charge_point_id", "connectors") if body.get(name) is None]
    if missing:
        raise InvalidArgument(f"Missing field(s): {', '.join(missing)}")
    charge_point_id = body["charge_point_id"]
    if not isinstance(charge_point_id, str):
        raise InvalidArgument("charge_point_id must be a string")
    password = body.get("password")
    return ChargerCreate(
        charge_point_id=check_id(charge_point_id),
        connectors=parse_connectors(body["connectors"]),
        password=None if password is None else _password(password),
        ocpp_version=_ocpp_version(body.get("ocpp_version")),
    )


def _flag(value: object, name: str) -> bool:
    # Query parameters are text.
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name} must be a boolean (true or false)")
    return value


def parse_charger_patch(body: Mapping[str, object]) -> ChargerPatch:
    fields = ("password", "connectors", "disabled")
    reject_unknown(body, fields)
    if not any(name in body for name in fields):
        raise InvalidArgument(f"Send at least one of: {', '.join(fields)}")
    password = body.get("password")
    disabled = body.get("disabled")
    connectors = body.get("connectors")
    return ChargerPatch(
        new_password="password" in body,
        password=None if password is None else _password(password),
        connectors=None if connectors is None else parse_connectors(connectors),
        disabled=None if disabled is None else _flag(disabled, "disabled"),
    )


def _cursor(args: Mapping[str, object]) -> str | None:
    cursor = args.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise InvalidArgument("cursor must be a string")
    return cursor


def _limit(args: Mapping[str, object]) -> int:
    return 0 if args.get("limit") is None else parse_limit(args["limit"], "a page of N")


def parse_chargers(args: Mapping[str, object]) -> ChargersRequest:
    cursor = _cursor(args)
    online, disabled = args.get("online"), args.get("disabled")
    return ChargersRequest(
        limit=_limit(args),
        after=None if cursor is None else ChargerMark.decode(cursor),
        online=None if online is None else _flag(online, "online"),
        disabled=None if disabled is None else _flag(disabled, "disabled"),
    )


def parse_webhook_create(body: Mapping[str, object]) -> str:
    reject_unknown(body, ("url",))
    url = body.get("url")
    if url is None:
        raise InvalidArgument("Missing field(s): url")
    if not isinstance(url, str) or len(url) > URL_MAX:
        raise InvalidArgument(f"url must be a string of at most {URL_MAX} characters")
    return url


def parse_webhooks(args: Mapping[str, object]) -> WebhooksRequest:
    cursor = _cursor(args)
    return WebhooksRequest(
        limit=_limit(args), after=None if cursor is None else RowMark.decode(cursor)
    )


def parse_webhook_id(value: str) -> int:
    """A webhook's id from the path."""
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) < 2**31:
        raise InvalidArgument("webhook id must be a whole number from 1 (as POST answered)")
    return int(value)

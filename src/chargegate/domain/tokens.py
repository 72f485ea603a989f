"""ID tokens (cards): what the operator may set, and how a charger's token is answered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from chargegate.domain.charger_input import is_plain_text
from chargegate.domain.cursors import TokenMark
from chargegate.domain.errors import InvalidArgument

# The token's shape (domain.id_tags) is shared with the API's starts, which take a driver's
# token too; its names stay importable from here for the registry's callers.
from chargegate.domain.id_tags import ID_TAG_16_MAX as ID_TAG_16_MAX
from chargegate.domain.id_tags import ID_TAG_MAX as ID_TAG_MAX
from chargegate.domain.id_tags import fold as fold
from chargegate.domain.id_tags import parse_id_tag as parse_id_tag
from chargegate.domain.times import TimeFormatError, parse_utc
from chargegate.domain.validation import parse_limit, parse_staging, reject_unknown

NOTE_MAX = 255
E = TypeVar("E", bound=StrEnum)


class TokenStatus(StrEnum):
    """What the operator sets; Invalid is not stored, it is what an unknown token gets."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"


class TokenType(StrEnum):
    """2.0.1 IdTokenEnumType: how a charger presents the token (kept for its answers)."""

    CENTRAL = "Central"
    E_MAID = "eMAID"
    ISO14443 = "ISO14443"
    ISO15693 = "ISO15693"
    KEY_CODE = "KeyCode"
    LOCAL = "Local"
    MAC_ADDRESS = "MacAddress"
    NO_AUTHORIZATION = "NoAuthorization"


class UnknownTokens(StrEnum):
    """An operator's answer to a token it does not have: `accept` is free vend."""

    REJECT = "reject"
    ACCEPT = "accept"


class Verdict(StrEnum):
    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    # Valid, but already in a live session (or, by the operator's setting, its group is).
    CONCURRENT_TX = "ConcurrentTx"


@dataclass(frozen=True, slots=True)
class Authorization:
    """The answer to a charger that presents a token."""

    verdict: Verdict
    expires_at: datetime | None = None
    parent_id_tag: str | None = None
    parent_type: TokenType | None = None


ACCEPTED = Authorization(Verdict.ACCEPTED)
INVALID = Authorization(Verdict.INVALID)
CONCURRENT_TX = Authorization(Verdict.CONCURRENT_TX)


def verdict(status: TokenStatus, expires_at: datetime | None, now: datetime) -> Verdict:
    """A blocked token stays Blocked after its expiry: the operator's word is the stronger."""
    if status is TokenStatus.BLOCKED:
        return Verdict.BLOCKED
    if status is TokenStatus.EXPIRED or (expires_at is not None and expires_at <= now):
        return Verdict.EXPIRED
    return Verdict.ACCEPTED


@dataclass(frozen=True, slots=True)
class TokenCreate:
    id_tag: str
    type: TokenType
    status: TokenStatus
    expires_at: datetime | None
    parent_id_tag: str | None
    note: str | None
    staging: bool


@dataclass(frozen=True, slots=True)
class TokenPatch:
    """Only the fields named in `changed` are set (to their value here, None clears)."""

    changed: frozenset[str]
    status: TokenStatus | None
    expires_at: datetime | None
    parent_id_tag: str | None
    note: str | None
    staging: bool


@dataclass(frozen=True, slots=True)
class TokensRequest:
    staging: bool
    limit: int = 0
    after: TokenMark | None = None
    status: TokenStatus | None = None
    parent_id_tag: str | None = None


def parse_token_create(body: Mapping[str, object]) -> TokenCreate:
    reject_unknown(body, ("id_tag", "type", "status", "expires", "parent_id_tag", "note", "stg"))
    missing = [name for name in ("id_tag", "status") if body.get(name) is None]
    if missing:
        raise InvalidArgument(f"Missing field(s): {', '.join(missing)}")
    return TokenCreate(
        id_tag=parse_id_tag(body["id_tag"]),
        type=parse_member(TokenType, body["type"], "type")
        if "type" in body
        else TokenType.ISO14443,
        status=parse_member(TokenStatus, body["status"], "status"),
        expires_at=_time(body.get("expires")),
        parent_id_tag=_parent(body.get("parent_id_tag")),
        note=_note(body.get("note")),
        staging=parse_staging(body),
    )


_PATCHABLE = ("status", "expires", "parent_id_tag", "note")


def parse_token_patch(body: Mapping[str, object]) -> TokenPatch:
    reject_unknown(body, (*_PATCHABLE, "stg"))
    changed = frozenset(name for name in _PATCHABLE if name in body)
    if not changed:
        raise InvalidArgument(f"Nothing to change: send one or more of {', '.join(_PATCHABLE)}")
    if "status" in changed and body["status"] is None:
        raise InvalidArgument("status cannot be cleared: one of Accepted, Blocked, Expired")
    status = body.get("status")
    return TokenPatch(
        changed=changed,
        status=None if status is None else parse_member(TokenStatus, status, "status"),
        expires_at=_time(body.get("expires")),
        parent_id_tag=_parent(body.get("parent_id_tag")),
        note=_note(body.get("note")),
        staging=parse_staging(body),
    )


def parse_tokens(args: Mapping[str, object]) -> TokensRequest:
    cursor = args.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise InvalidArgument("cursor must be a string")
    status = args.get("status")
    return TokensRequest(
        staging=parse_staging(args),
        limit=0 if args.get("limit") is None else parse_limit(args["limit"], "a page of N"),
        after=None if cursor is None else TokenMark.decode(cursor),
        status=None if status is None else parse_member(TokenStatus, status, "status"),
        parent_id_tag=_parent(args.get("parent_id_tag")),
    )


def parse_member(kind: type[E], value: object, field: str) -> E:
    if isinstance(value, str) and value in {member.value for member in kind}:
        return kind(value)
    raise InvalidArgument(f"{field} must be one of {', '.join(kind)}")


def _time(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgument("expires must be a string: an ISO 8601 timestamp in UTC or null")
    try:
        return parse_utc(value)
    except TimeFormatError as exc:
        raise InvalidArgument(f"expires: {exc}") from None


def _parent(value: object) -> str | None:
    return None if value is None else parse_id_tag(value, "parent_id_tag")


def _note(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > NOTE_MAX or not is_plain_text(value):
        raise InvalidArgument(
            f"note must be a string of at most {NOTE_MAX} characters, without control characters"
        )
    return value

"""An operator's token policies (/1.2/settings) and a charger's own answer to unknown tokens
(/1.2/chargers/<id>/settings): what may be set, and how a change is read.

Settings are the operator's, not the sandbox's: they govern what real chargers are told, and a
sandbox copy would be one no charger ever reads. `stg: true` is refused on a change for that
reason (a sandbox caller must not change production by accident); a read shows the one set."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from chargegate.domain.errors import InvalidArgument
from chargegate.domain.tokens import E, UnknownTokens, parse_member
from chargegate.domain.validation import parse_staging, reject_unknown


class ConcurrentTx(StrEnum):
    """When a valid token is answered ConcurrentTx: while it has a live session (`token`),
    also while another token of its group has one (`group`), or never (`off`)."""

    TOKEN = "token"
    GROUP = "group"
    OFF = "off"


class BlockedSessions(StrEnum):
    """What blocking a token through the API does to its running sessions: they run on until
    the charger next presents the token (`continue`), or they are stopped at once (`stop`)."""

    CONTINUE = "continue"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class OperatorSettings:
    unknown_tokens: UnknownTokens
    concurrent_tx: ConcurrentTx
    blocked_sessions: BlockedSessions
    # ClearCache to the operator's online chargers when a token is blocked, expired or deleted,
    # so that a card their authorization cache holds as Accepted stops working there too.
    clear_cache_on_block: bool


@dataclass(frozen=True, slots=True)
class SettingsPatch:
    """Only the fields that are not None change."""

    unknown_tokens: UnknownTokens | None = None
    concurrent_tx: ConcurrentTx | None = None
    blocked_sessions: BlockedSessions | None = None
    clear_cache_on_block: bool | None = None


@dataclass(frozen=True, slots=True)
class ChargerSettingsPatch:
    # None: the charger follows its operator's policy again.
    unknown_tokens: UnknownTokens | None


_SETTINGS = ("unknown_tokens", "concurrent_tx", "blocked_sessions", "clear_cache_on_block")


def parse_settings_read(args: Mapping[str, object]) -> None:
    """A read takes `stg` as every endpoint does: the operator's one set of settings either way."""
    reject_unknown(args, ("stg",))
    parse_staging(args)


def parse_settings_patch(body: Mapping[str, object]) -> SettingsPatch:
    reject_unknown(body, (*_SETTINGS, "stg"))
    _production_only(body)
    changed = [name for name in _SETTINGS if name in body]
    if not changed:
        raise InvalidArgument(f"Nothing to change: send one or more of {', '.join(_SETTINGS)}")
    flag = body.get("clear_cache_on_block")
    if "clear_cache_on_block" in body and not isinstance(flag, bool):
        raise InvalidArgument("clear_cache_on_block must be a boolean (true or false)")
    return SettingsPatch(
        unknown_tokens=_optional(UnknownTokens, body, "unknown_tokens"),
        concurrent_tx=_optional(ConcurrentTx, body, "concurrent_tx"),
        blocked_sessions=_optional(BlockedSessions, body, "blocked_sessions"),
        clear_cache_on_block=flag if isinstance(flag, bool) else None,
    )


def parse_charger_settings_patch(body: Mapping[str, object]) -> ChargerSettingsPatch:
    reject_unknown(body, ("unknown_tokens", "stg"))
    _production_only(body)
    if "unknown_tokens" not in body:
        raise InvalidArgument(
            "Nothing to change: send unknown_tokens (accept, reject, or null for the operator's)"
        )
    value = body["unknown_tokens"]
    return ChargerSettingsPatch(
        None if value is None else parse_member(UnknownTokens, value, "unknown_tokens")
    )


def _optional(kind: type[E], body: Mapping[str, object], field: str) -> E | None:
    if field not in body:
        return None
    return parse_member(kind, body[field], field)


def _production_only(body: Mapping[str, object]) -> None:
    if parse_staging(body):
        raise InvalidArgument(
            "Settings are the operator's and govern its real chargers; the sandbox has no copy "
            "of its own: send the change without stg"
        )

"""A bulk import of ID tokens: every row checked as POST /1.2/tokens checks one token, and the
import refused as a whole when any row is wrong."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from chargegate.domain.errors import InvalidArgument, ItemError, TooLarge
from chargegate.domain.tokens import (
    TokenStatus,
    TokenType,
    fold,
    parse_member,
    parse_token_create,
)
from chargegate.domain.validation import parse_staging, reject_unknown

# Rows per import: one transaction, bounded in time and memory; a larger file is split.
IMPORT_MAX_ROWS = 10_000
# Rows at fault listed in a refusal: enough to fix a file by, small enough to read.
ERRORS_LISTED = 100
# The fields a row may name, as POST /1.2/tokens takes them (stg is the import's, not a row's).
ROW_FIELDS = ("id_tag", "type", "status", "expires", "parent_id_tag", "note")


class ImportMode(StrEnum):
    """`upsert` changes the tokens that exist already; `create` refuses the import then."""

    UPSERT = "upsert"
    CREATE = "create"


@dataclass(frozen=True, slots=True)
class TokenFields:
    """What a token says, beyond its id: compared to tell a changed token from an unchanged."""

    type: TokenType
    status: TokenStatus
    expires_at: datetime | None
    parent_id_tag: str | None
    note: str | None


# A row's field -> the TokenFields attribute it sets.
_ATTRIBUTES = {
    "type": "type",
    "status": "status",
    "expires": "expires_at",
    "parent_id_tag": "parent_id_tag",
    "note": "note",
}


@dataclass(frozen=True, slots=True)
class ImportRow:
    index: int
    id_tag: str
    # As a new token gets them: the fields the row leaves out at their defaults.
    fields: TokenFields
    # The fields (TokenFields') the row names: an existing token gets these, keeps the others.
    named: frozenset[str]

    def applied_to(self, stored: TokenFields) -> TokenFields:
        return replace(stored, **{name: getattr(self.fields, name) for name in self.named})


@dataclass(frozen=True, slots=True)
class TokenImport:
    mode: ImportMode
    staging: bool
    rows: tuple[ImportRow, ...]


def at_index(index: int) -> str:
    return f"index {index}"


def parse_token_import(body: Mapping[str, object]) -> TokenImport:
    reject_unknown(body, ("tokens", "mode", "stg"))
    rows = body.get("tokens")
    if not isinstance(rows, list):
        raise InvalidArgument(
            f"tokens must be a list of up to {IMPORT_MAX_ROWS} tokens, each as POST /1.2/tokens "
            f"takes one ({', '.join(ROW_FIELDS)})"
        )
    mode = body.get("mode")
    return TokenImport(
        mode=ImportMode.UPSERT if mode is None else parse_member(ImportMode, mode, "mode"),
        staging=parse_staging(body),
        rows=parse_rows(rows, at_index),
    )


def parse_rows(rows: Sequence[object], position: Callable[[int], str]) -> tuple[ImportRow, ...]:
    """Every row checked, and the import refused with the rows at fault (by index; `position`
    names an index in a message, as the caller's user counts rows)."""
    if len(rows) > IMPORT_MAX_ROWS:
        raise TooLarge(
            f"{len(rows)} tokens in one import; at most {IMPORT_MAX_ROWS}: split the file"
        )
    parsed: list[ImportRow] = []
    errors: list[ItemError] = []
    first: dict[str, int] = {}
    for index, row in enumerate(rows):
        try:
            imported = _row(index, row)
        except InvalidArgument as exc:
            errors.append(ItemError(index, exc.message))
            continue
        earlier = first.setdefault(fold(imported.id_tag), index)
        if earlier != index:
            errors.append(
                ItemError(
                    index,
                    f"id_tag '{imported.id_tag}' is also at {position(earlier)} (tokens are "
                    "compared without regard to letter case): keep one of them",
                )
            )
        parsed.append(imported)
    if errors:
        raise InvalidArgument(refusal(len(errors), len(rows), "are not valid"), listed(errors))
    return tuple(parsed)


def refusal(faulty: int, rows: int, what: str) -> str:
    shown = f" (the first {ERRORS_LISTED} are listed)" if faulty > ERRORS_LISTED else ""
    return f"{faulty} of the {rows} tokens {what}{shown}: nothing was imported"


def listed(errors: Sequence[ItemError]) -> tuple[ItemError, ...]:
    return tuple(errors[:ERRORS_LISTED])


def _row(index: int, row: object) -> ImportRow:
    if not isinstance(row, dict):
        raise InvalidArgument(f"a token must be an object with {', '.join(ROW_FIELDS)}")
    reject_unknown(row, ROW_FIELDS)
    token = parse_token_create(row)
    return ImportRow(
        index=index,
        id_tag=token.id_tag,
        fields=TokenFields(
            token.type, token.status, token.expires_at, token.parent_id_tag, token.note
        ),
        named=frozenset(attribute for name, attribute in _ATTRIBUTES.items() if name in row),
    )

"""Page cursors: where a page of a keyset-ordered list ended, as opaque URL-safe text.

A cursor comes back from the client, so decoding it is input validation: anything that is not
one we could have given out (bad base64, a value no column holds) is InvalidArgument (400),
never an error of the database driver (SQLite cannot bind an integer beyond 2^63, PostgreSQL's
integer columns stop at 2^31-1)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

from chargegate.domain.charger_input import is_plain_text
from chargegate.domain.errors import InvalidArgument
from chargegate.domain.identity import CHARGE_POINT_ID_MAX

# Ids and connector numbers are 32-bit integer columns.
INT_COLUMN_MAX = 2**31 - 1
# The longest ID token (2.0.1 CiString36).
TOKEN_MAX = 36
_UNKNOWN = (
    "cursor is not one this server gave out: pass the X-Next-Cursor header of the previous "
    "page unchanged"
)


def _pack(*parts: str) -> str:
    raw = "|".join(parts).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unpack(cursor: str, count: int) -> list[str]:
    """The `count` parts of a cursor; only the last may itself hold a '|'."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidArgument(_UNKNOWN) from None
    parts = raw.split("|", count - 1)
    if len(parts) != count:
        raise InvalidArgument(_UNKNOWN)
    return parts


def _column_int(text: str, lowest: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InvalidArgument(_UNKNOWN) from None
    if not lowest <= value <= INT_COLUMN_MAX:
        raise InvalidArgument(_UNKNOWN)
    return value


@dataclass(frozen=True, slots=True)
class PageMark:
    """Where a page of transactions (newest first) ended: its last one's creation and id."""

    created_at: datetime
    transaction_id: int

    def encode(self) -> str:
        return _pack(self.created_at.isoformat(), str(self.transaction_id))

    @classmethod
    def decode(cls, cursor: str) -> PageMark:
        created, transaction_id = _unpack(cursor, 2)
        try:
            when = datetime.fromisoformat(created)
            # An offset that pushes the time past year 1 or 9999 overflows here, not in the
            # database driver.
            utc = when.astimezone(UTC) if when.tzinfo is not None else None
        except (ValueError, OverflowError):
            raise InvalidArgument(_UNKNOWN) from None
        if utc is None:
            raise InvalidArgument(_UNKNOWN)
        return cls(utc, _column_int(transaction_id, 1))


@dataclass(frozen=True, slots=True)
class PortMark:
    """Where a page of ports (by charger id, then connector) ended: its last one's keys."""

    charge_point_id: str
    connector_id: int

    def encode(self) -> str:
        # The id goes last: it may hold a '|' itself.
        return _pack(str(self.connector_id), self.charge_point_id)

    @classmethod
    def decode(cls, cursor: str) -> PortMark:
        # The id is only compared with, so the id rule is not applied (chargers registered
        # before ids were checked may hold characters it refuses); but no id is longer than
        # the column, and PostgreSQL cannot bind a NUL, so those are not from a page we gave.
        connector_id, charge_point_id = _unpack(cursor, 2)
        if len(charge_point_id) > CHARGE_POINT_ID_MAX or not is_plain_text(charge_point_id):
            raise InvalidArgument(_UNKNOWN)
        return cls(charge_point_id, _column_int(connector_id, 0))


@dataclass(frozen=True, slots=True)
class TokenMark:
    """Where a page of ID tokens (by their case-folded id_tag) ended."""

    folded: str

    def encode(self) -> str:
        return _pack(self.folded)

    @classmethod
    def decode(cls, cursor: str) -> TokenMark:
        # Only compared with; but no token is longer, and PostgreSQL cannot bind a NUL.
        (folded,) = _unpack(cursor, 1)
        if not folded or len(folded) > TOKEN_MAX or not is_plain_text(folded):
            raise InvalidArgument(_UNKNOWN)
        return cls(folded)


@dataclass(frozen=True, slots=True)
class RowMark:
    """Where a page of rows listed newest first by their integer id ended (reservations)."""

    row_id: int

    def encode(self) -> str:
        return _pack(str(self.row_id))

    @classmethod
    def decode(cls, cursor: str) -> RowMark:
        (row_id,) = _unpack(cursor, 1)
        return cls(_column_int(row_id, 1))


@dataclass(frozen=True, slots=True)
class ChargerMark:
    """Where a page of chargers (by charge point id) ended."""

    charge_point_id: str

    def encode(self) -> str:
        return _pack(self.charge_point_id)

    @classmethod
    def decode(cls, cursor: str) -> ChargerMark:
        # Only compared with (see PortMark).
        (charge_point_id,) = _unpack(cursor, 1)
        too_long = len(charge_point_id) > CHARGE_POINT_ID_MAX
        if not charge_point_id or too_long or not is_plain_text(charge_point_id):
            raise InvalidArgument(_UNKNOWN)
        return cls(charge_point_id)

"""A token file (CSV with a header line) read into the rows of an import, which checks them as
the API checks its rows. Also reads SteVe's `ocpp_tag` export."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass

from chargegate.domain.errors import InvalidArgument, TooLarge
from chargegate.domain.token_import import IMPORT_MAX_ROWS, ROW_FIELDS

# SteVe's names for our columns.
_ALIASES = {"expiry_date": "expires"}
# SteVe blocks a card by allowing it no transaction at all (0); any other count is a limit we do
# not keep. It stands for the status in a file without one.
_STEVE_LIMIT = "max_active_transaction_count"
# SteVe's row key: nothing to us.
_IGNORED = ("ocpp_tag_pk",)
_KNOWN = (*ROW_FIELDS, *_ALIASES, _STEVE_LIMIT, *_IGNORED)


@dataclass(frozen=True, slots=True)
class TokenFile:
    rows: list[dict[str, object]]
    # The line of the file each row begins on: what its errors are told by.
    lines: list[int]

    def position(self, index: int) -> str:
        return f"row {self.lines[index]}"


def read_token_csv(lines: Iterable[str]) -> TokenFile:
    """Rows as POST /1.2/tokens:import takes them: an empty cell is null, a row shorter than the
    header has empty cells, a cell beyond the header that is not empty is an unknown field
    (refused with its row).
    A byte order mark and CRLF line ends are read as any editor writes them."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise InvalidArgument(f"The file is empty: it needs a header line ({','.join(ROW_FIELDS)})")
    columns = [_column(cell) for cell in header]
    _check_columns(columns)
    steve_status = "status" not in columns and _STEVE_LIMIT in columns
    rows: list[dict[str, object]] = []
    starts: list[int] = []
    ended = reader.line_num
    for cells in reader:
        start, ended = ended + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) == IMPORT_MAX_ROWS:
            raise TooLarge(
                f"More than {IMPORT_MAX_ROWS} tokens in the file; at most {IMPORT_MAX_ROWS} per "
                "import: split the file"
            )
        values = [cell.strip() or None for cell in cells]
        values += [None] * (len(columns) - len(values))
        row: dict[str, object] = {}
        for n, value in enumerate(values):
            if n >= len(columns) and value is None:
                continue  # a trailing separator, as some exports write
            name = columns[n] if n < len(columns) else f"column {n + 1}"
            if name not in (_STEVE_LIMIT, *_IGNORED):
                row[_ALIASES.get(name, name)] = value
        if steve_status:
            limit = values[columns.index(_STEVE_LIMIT)]
            row["status"] = "Blocked" if limit == "0" else "Accepted"
        rows.append(row)
        starts.append(start)
    return TokenFile(rows, starts)


def _column(cell: str) -> str:
    return cell.strip().lstrip("\ufeff").strip().lower()


def _check_columns(columns: list[str]) -> None:
    unknown = [name for name in columns if name not in _KNOWN]
    if unknown:
        raise InvalidArgument(
            f"Unknown column(s) in the header: {', '.join(repr(name) for name in unknown)}. "
            f"Columns: {', '.join(ROW_FIELDS)} (or SteVe's expiry_date, {_STEVE_LIMIT})"
        )
    named = [_ALIASES.get(name, name) for name in columns]
    twice = sorted({name for name in named if named.count(name) > 1})
    if twice:
        raise InvalidArgument(f"Column(s) named twice in the header: {', '.join(twice)}")
    if "id_tag" not in named:
        raise InvalidArgument("The header has no id_tag column")
    if "status" not in named and _STEVE_LIMIT not in named:
        raise InvalidArgument(
            f"The header has no status column (nor SteVe's {_STEVE_LIMIT}, whose 0 is Blocked)"
        )

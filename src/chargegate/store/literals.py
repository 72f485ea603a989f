"""Constants written into a statement's SQL text rather than bound as parameters.

PostgreSQL plans a prepared statement generically after five runs, and a generic plan knows
neither that a bound value is one of the few rows (PENDING commands among the DONE, Open
transactions among the Closed) nor that a partial index on that value applies.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, literal_column


def written(value: StrEnum, column: Any) -> ColumnElement[Any]:
    """`value` as `column` stores it, in the statement's text from its compilation on (so also
    in a statement run for many rows at once)."""
    assert "'" not in value.value, value
    return literal_column(f"'{value.value}'", column.type)

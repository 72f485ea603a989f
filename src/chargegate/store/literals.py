"""Constants written into a statement's SQL text rather than bound as parameters.

PostgreSQL plans a prepared statement generically after five runs, and a generic plan knows
neither that a bound value is one of the few rows (PENDING commands among the DONE, Open
transactions among the Closed) nor that a partial index on that value applies.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from sqlalchemy import literal


def written(value: Enum, column: Any) -> Any:
    """`value` as `column` stores it, in the statement's text."""
    return literal(value, column.type, literal_execute=True)

"""Splitting long lists of keys for `IN (...)` and set-based statements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

Key = TypeVar("Key")

# Keys per statement: well under SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 5000


def chunks(keys: Sequence[Key]) -> list[Sequence[Key]]:
    return [keys[first : first + CHUNK] for first in range(0, len(keys), CHUNK)]

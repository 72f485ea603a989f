"""API keys as the API's authentication reads them, and their move to the fast hash."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from chargegate.domain.credentials import hash_api_key
from chargegate.services.runtime import Runtime
from chargegate.store import operators as operator_store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredKey:
    id: int
    operator_id: int
    key_hash: str


async def find(rt: Runtime, lookup: str) -> StoredKey | None:
    """The unrevoked key with this lookup id. Read on every request, never cached: a revocation
    applies at once on every node."""
    async with rt.reads() as session:
        row = await operator_store.find_api_key(session, lookup)
        return None if row is None else StoredKey(row.id, row.operator_id, row.key_hash)


async def move_to_fast_hash(rt: Runtime, stored: StoredKey, key: str) -> str:
    """A key stored with scrypt is stored with the fast hash once it has matched; returns the
    new hash. Another node doing the same at once writes the same digest."""
    new_hash = hash_api_key(key)
    async with rt.sessions() as session, session.begin():
        await operator_store.replace_api_key_hash(session, stored.id, stored.key_hash, new_hash)
    log.info("API key moved from scrypt to the fast hash", extra={"api_key_id": stored.id})
    return new_hash

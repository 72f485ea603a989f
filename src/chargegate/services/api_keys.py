"""API keys: which operator a key is, within which limits, and the move of old keys to the fast
hash."""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass
from typing import NoReturn

from chargegate.config import Settings
from chargegate.domain.credentials import (
    PasswordCache,
    api_key_lookup,
    api_key_matches,
    hash_api_key,
    is_scrypt_hash,
)
from chargegate.domain.errors import TooManyRequests, Unauthorized
from chargegate.domain.lru import Lru
from chargegate.domain.rate import KeyedBuckets
from chargegate.domain.roles import Role
from chargegate.services.runtime import Runtime
from chargegate.services.slow_checks import SlowChecks
from chargegate.store import operators as operator_store

log = logging.getLogger(__name__)


# One message for every refused key (missing, malformed, unknown, wrong, revoked): which of
# these it was would tell a guesser which key ids exist.
UNAUTHORIZED = "Incorrect credentials: send a valid API key in the x-api-key header"


class ApiGuard:
    """This node's memory for the API: keys already verified, the rate limits, and the threads
    that check keys still stored with scrypt."""

    def __init__(self, settings: Settings) -> None:
        # Keys that matched on this node: they skip the per-address limit on tries below.
        self.verified = PasswordCache()
        self.recent = RecentKeys(settings.api_key_recheck_s)
        self._slow_checks = SlowChecks("api_key", settings.api_key_checks_at_once)
        self._per_key = KeyedBuckets(settings.api_rate_per_s, settings.api_burst)
        self._rate_text = f"{settings.api_rate_per_s:g} per second (bursts of {settings.api_burst})"
        window = settings.api_auth_failure_window_s
        self._tries = KeyedBuckets(
            settings.api_auth_failures / window if window > 0 else 0.0,
            settings.api_auth_failures,
        )

    def within_rate(self, api_key_id: int) -> None:
        bucket = self._per_key[api_key_id]
        if not bucket.take():
            raise TooManyRequests(
                f"Too many requests with this API key: at most {self._rate_text}; "
                "retry after the time in the Retry-After header",
                bucket.retry_after_s(),
            )

    def reserve_try(self, client: str) -> None:
        """Spend one of this address's tries before checking anything, so that requests sent
        all at once get no more checks than the address has tries left."""
        bucket = self._tries[client]
        if not bucket.take():
            raise TooManyRequests(
                "Too many requests with invalid API keys from this address; "
                "retry after the time in the Retry-After header with a valid x-api-key",
                bucket.retry_after_s(),
            )

    def try_succeeded(self, client: str) -> None:
        """Only failed tries count: a key that matched gives its try back."""
        self._tries[client].give_back()

    async def matches(self, key: str, stored: str | None) -> bool:
        if stored is not None and is_scrypt_hash(stored):
            return await self._slow_checks.run(api_key_matches, key, stored)
        # SHA-256 and a constant-time comparison: microseconds, so on the event loop.
        return api_key_matches(key, stored)

    def close(self) -> None:
        self._slow_checks.close()


@dataclass(frozen=True, slots=True)
class StoredKey:
    id: int
    operator_id: int
    key_hash: str
    role: Role = Role.OPERATOR


class RecentKeys:
    """Keys read from the database and matched on this node, by lookup id. For `recheck_s`
    after its read a key is taken as it was: a busy key (an app at its rate limit) costs no
    query per request, and a revocation reaches every node within that time."""

    def __init__(self, recheck_s: float, size: int = 10_000) -> None:
        self._recheck_s = recheck_s
        self._keys: Lru[str, tuple[StoredKey, float]] = Lru(size)

    def fresh(self, lookup: str, key_hash: str) -> StoredKey | None:
        """The key read for this lookup id within `recheck_s`, if its hash is `key_hash`."""
        entry = self._keys.get(lookup)
        if entry is None:
            return None
        stored, read_at = entry
        if time.monotonic() - read_at >= self._recheck_s:
            self._keys.forget(lookup)
            return None
        return stored if hmac.compare_digest(stored.key_hash, key_hash) else None

    def remember(self, lookup: str, stored: StoredKey, read_at: float) -> None:
        self._keys.put(lookup, (stored, read_at))


async def find(rt: Runtime, lookup: str) -> StoredKey | None:
    """The unrevoked key with this lookup id, read from the database."""
    async with rt.reads() as session:
        row = await operator_store.find_api_key(session, lookup)
        return None if row is None else StoredKey(row.id, row.operator_id, row.key_hash, row.role)


async def move_to_fast_hash(rt: Runtime, stored: StoredKey, key: str) -> str:
    """A key stored with scrypt is stored with the fast hash once it has matched; returns the
    new hash. Another node doing the same at once writes the same digest."""
    new_hash = hash_api_key(key)
    async with rt.sessions() as session, session.begin():
        await operator_store.replace_api_key_hash(session, stored.id, stored.key_hash, new_hash)
    log.info("API key moved from scrypt to the fast hash", extra={"api_key_id": stored.id})
    return new_hash


async def authenticate(
    rt: Runtime, guard: ApiGuard, key: str, *, client: str, shown_as: str | None
) -> StoredKey:
    """The key (its operator and role); Unauthorized, or TooManyRequests over a limit."""
    lookup = api_key_lookup(key)
    if lookup is None:
        # Not shaped like a key: a refused try that needs no query.
        guard.reserve_try(client)
        _refuse(shown_as, lookup)
    fast_hash = hash_api_key(key)
    # A key that matched here before (its digest is the hash it matched) spends no try, so
    # that someone guessing from the same address (a shared NAT or proxy) never locks it out;
    # any other spends one before the database is read: guesses past the limit cost no query.
    seen = guard.verified.known_good(key, fast_hash)
    if seen:
        recent = guard.recent.fresh(lookup, fast_hash)
        if recent is not None:
            guard.within_rate(recent.id)
            return recent
    else:
        guard.reserve_try(client)
    read_at = time.monotonic()
    stored = await find(rt, lookup)
    if seen and stored is not None and guard.verified.known_good(key, stored.key_hash):
        guard.recent.remember(lookup, stored, read_at)
        guard.within_rate(stored.id)
        return stored
    if seen:
        # Revoked since it matched here: a guess like any other now.
        guard.reserve_try(client)
    if not await guard.matches(key, None if stored is None else stored.key_hash):
        _refuse(shown_as, lookup)
    assert stored is not None
    guard.try_succeeded(client)
    key_hash = stored.key_hash
    if is_scrypt_hash(key_hash):
        key_hash = await move_to_fast_hash(rt, stored, key)
    guard.verified.remember(key, key_hash)
    verified = StoredKey(stored.id, stored.operator_id, key_hash, stored.role)
    guard.recent.remember(lookup, verified, read_at)
    guard.within_rate(stored.id)
    return verified


def _refuse(shown_as: str | None, lookup: str | None) -> NoReturn:
    log.info("API key refused", extra={"client": shown_as, "lookup": lookup})
    raise Unauthorized(UNAUTHORIZED)

"""API keys and charger passwords: generation, hashing and constant-time checks."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass

KEY_PREFIX = "cg"


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key: str
    lookup: str
    key_hash: str


def hash_api_key(key: str) -> str:
    """The scrypt hash stored for a key. The salt only has to be unique per key, not secret: it
    is derived from the key's random lookup id, so the hash is reproducible from the key alone."""
    lookup = api_key_lookup(key) or key
    salt = hashlib.sha256(b"chargegate api key salt\0" + lookup.encode()).digest()[:16]
    return _scrypt_hash(key, salt)


def new_api_key() -> NewApiKey:
    lookup = secrets.token_hex(8)
    key = f"{KEY_PREFIX}_{lookup}_{secrets.token_urlsafe(32)}"
    return NewApiKey(key=key, lookup=lookup, key_hash=hash_api_key(key))


def api_key_lookup(key: str) -> str | None:
    """The public lookup part of a well-formed key, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 16:
        return None
    return parts[1]


def is_legacy_api_key_hash(stored: str) -> bool:
    """Keys created before scrypt were stored as a bare sha256 hex digest."""
    return not stored.startswith("scrypt$")


def api_key_matches(key: str, key_hash: str) -> bool:
    if is_legacy_api_key_hash(key_hash):
        return hmac.compare_digest(hashlib.sha256(key.encode()).hexdigest(), key_hash)
    return password_matches(key, key_hash)


def verify_api_key(key: str, stored: str | None) -> bool:
    """Check `key` against its row's hash (None: no such key) with the same scrypt work either
    way, so that neither the answer nor its timing tells whether a key id exists."""
    if stored is not None and not is_legacy_api_key_hash(stored):
        return password_matches(key, stored)
    matched = stored is not None and api_key_matches(key, stored)
    if not matched:
        password_matches(key, _dummy_hash())
    # A matching legacy key is rehashed with scrypt by the caller: the same work again.
    return matched


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(32))


_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def _scrypt_hash(secret: str, salt: bytes) -> str:
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def hash_password(password: str) -> str:
    return _scrypt_hash(password, secrets.token_bytes(16))


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
    )
    return hmac.compare_digest(candidate.hex(), digest)


class PasswordCache:
    """Chargers reconnect often, and all at once after an outage (a reconnect storm), and API
    clients send many requests: scrypt on every handshake or request would cost tens of
    milliseconds of CPU each. Once a password or API key has matched a stored hash, a fast digest
    of it is remembered for that hash (a new hash, e.g. after a rehash, starts over)."""

    def __init__(self, size: int = 100_000) -> None:
        self._size = size
        self._good: OrderedDict[str, str] = OrderedDict()

    def known_good(self, password: str, stored: str) -> bool:
        digest = self._good.get(stored)
        return digest is not None and hmac.compare_digest(digest, _digest(password))

    def remember(self, password: str, stored: str) -> None:
        self._good[stored] = _digest(password)
        self._good.move_to_end(stored)
        while len(self._good) > self._size:
            self._good.popitem(last=False)


def _digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def new_id_tag() -> str:
    """An OCPP idTag (CiString20) that names one transaction."""
    return "CG" + secrets.token_hex(9).upper()

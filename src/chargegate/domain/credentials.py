"""API keys and charger passwords: generation, hashing and constant-time checks."""

from __future__ import annotations

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
    # Keys carry 256 bits of randomness, so a fast hash is as safe as a slow one here and keeps
    # every API request cheap. Passwords, which people choose, get scrypt below.
    return hashlib.sha256(key.encode()).hexdigest()


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


def api_key_matches(key: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(key), key_hash)


_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


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
    """Chargers reconnect often, and all at once after an outage (a reconnect storm): scrypt on
    every handshake would cost tens of milliseconds of CPU each. Once a password has matched a
    stored hash, a fast digest of it is remembered for that hash."""

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

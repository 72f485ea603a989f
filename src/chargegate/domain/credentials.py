"""API keys and charger passwords: generation, hashing and constant-time checks."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from chargegate.domain.lru import Lru

KEY_PREFIX = "cg"


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key: str
    lookup: str
    key_hash: str


def hash_api_key(key: str) -> str:
    """The hash stored for a key: its SHA-256 hex digest. A key carries 256 random bits, so
    no guessing can reverse the digest and a slow hash would only make each request, good or
    bad, cost us tens of milliseconds of CPU (a lever for anyone with bad keys). Keys stored
    before migration 0003 are in this same form."""
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


def is_scrypt_hash(stored: str) -> bool:
    """Keys created from migration 0003 until the fast hash came back were stored with scrypt:
    they still match, slowly, and move to the fast hash when next used."""
    return stored.startswith("scrypt$")


# What an unknown key id is compared against: no SHA-256 hex digest equals it, and comparing
# against it costs what comparing against a real row does.
_NO_KEY_HASH = "-" * 64


def api_key_matches(key: str, stored: str | None) -> bool:
    """Whether `key` is the one hashed in `stored` (None: no such key id), in constant time.
    Slow (scrypt) for a row `is_scrypt_hash` picks out: run those off the event loop."""
    if stored is not None and is_scrypt_hash(stored):
        return password_matches(key, stored)
    return hmac.compare_digest(hash_api_key(key), _NO_KEY_HASH if stored is None else stored)


_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def _scrypt_hash(secret: str, salt: bytes) -> str:
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def hash_password(password: str) -> str:
    return _scrypt_hash(password, secrets.token_bytes(16))


# Stored in place of a hash for a charger registered with --insecure-no-password: anyone who
# knows its id is admitted as it (and warned about at start-up and at each handshake).
INSECURE_NO_PASSWORD = "insecure-no-password"

# What a password sent for an unknown id (or a charger without one) is checked against: a full
# scrypt run, as for a wrong password, so that timing does not tell which ids exist. No password
# derives an all-zero digest.
DUMMY_PASSWORD_HASH = f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${'00' * 16}${'00' * 64}"


# What every password chargegate generates starts with, and a person may not choose: the form
# alone (what the charger sends, never its row) decides which check a handshake costs.
GENERATED_PASSWORD_PREFIX = "cgp-"
_FAST_SCHEME = "sha256$"


def new_charger_password() -> str:
    """A charger password for whoever sets up the unit: 192 random bits, typeable. 36
    characters of A-Z a-z 0-9 - _, within what OCPP lets a charger take (2.0.1 BasicAuthPassword
    and the 1.6 security whitepaper's AuthorizationKey: at most 40 characters)."""
    return GENERATED_PASSWORD_PREFIX + secrets.token_urlsafe(24)


def is_generated_password(password: str) -> bool:
    return password.startswith(GENERATED_PASSWORD_PREFIX)


def hash_charger_password(password: str) -> str:
    """The hash a charger's row keeps. A generated password carries 192 random bits: like an
    API key (`hash_api_key`), no guessing reverses its SHA-256, and scrypt would only cost every
    handshake tens of milliseconds of CPU (a reconnect storm of 20,000 chargers, minutes). A
    password a person chose may be guessable, so it stays scrypt."""
    return _fast_hash(password) if is_generated_password(password) else hash_password(password)


def _fast_hash(password: str) -> str:
    return _FAST_SCHEME + _digest(password)


# What a generated-form password is compared against when the row has no fast hash (an unknown
# id, a scrypt row, none): no SHA-256 hex digest equals it, and comparing costs the same.
_NO_FAST_HASH = _FAST_SCHEME + "-" * 64


def generated_password_matches(password: str, stored: str | None) -> bool:
    """Whether a password in the generated form matches `stored`, in constant time and without
    scrypt, whatever `stored` is: the cost depends only on what the charger sent."""
    fast = stored if stored is not None and stored.startswith(_FAST_SCHEME) else _NO_FAST_HASH
    return hmac.compare_digest(_fast_hash(password), fast)


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
    stored hash, a fast digest of it is remembered for that hash (a new hash starts over). The
    API remembers its keys the same way, to know which ones this node has seen match."""

    def __init__(self, size: int = 100_000) -> None:
        self._good: Lru[str, str] = Lru(size)

    def known_good(self, password: str, stored: str) -> bool:
        digest = self._good.get(stored)
        return digest is not None and hmac.compare_digest(digest, _digest(password))

    def known_wrong(self, password: str, stored: str) -> bool:
        """Another password is known to match this hash, so this one does not: a second
        password matching one scrypt hash would be a collision nobody can find."""
        digest = self._good.get(stored)
        return digest is not None and not hmac.compare_digest(digest, _digest(password))

    def remember(self, password: str, stored: str) -> None:
        self._good.put(stored, _digest(password))


def _digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def new_id_tag() -> str:
    """An OCPP idTag (CiString20) that names one transaction."""
    return "CG" + secrets.token_hex(9).upper()

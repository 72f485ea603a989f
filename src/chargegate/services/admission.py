"""Who may connect as a charger: the handshake's credentials checked against the charger's row.

A charger proves its id with a password (HTTP Basic auth, OCPP security profiles 1 and 2) or a
TLS client certificate whose subject CN is that id (profile 3). A charger registered without a
password is admitted to anyone only when it was registered so on purpose (`INSECURE_NO_PASSWORD`).

Timing must not tell which ids exist, so what a check costs depends only on what the charger
sent. A password in the form chargegate generates costs one SHA-256 (against the charger's fast
hash, or a dummy one: unknown id, scrypt row); any other password costs one scrypt check (against
the charger's hash, the bootstrap secret's, or a dummy one); none sent costs nothing. Known id or
not, each costs the same. A password known to be wrong (another one matched that scrypt hash
on this node) is refused without a check, as late as a check would be: guessing the passwords of
connected chargers then costs the node no CPU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import assert_never

from sqlalchemy.exc import IntegrityError

from chargegate.domain.auto_registration import AutoRegistration
from chargegate.domain.credentials import (
    DUMMY_PASSWORD_HASH,
    INSECURE_NO_PASSWORD,
    generated_password_matches,
    is_generated_password,
    is_scrypt_hash,
    password_matches,
)
from chargegate.domain.errors import ChargegateError
from chargegate.domain.times import utcnow
from chargegate.services.runtime import Runtime
from chargegate.store import chargers as charger_store
from chargegate.store import operators as operator_store
from chargegate.store.models import Charger

log = logging.getLogger(__name__)


class ChargerRefused(ChargegateError):
    """The charger may not connect: unknown id or wrong credentials."""


class ChargerDisabled(ChargerRefused):
    """The charger proved who it is, and its operator disabled it."""


@dataclass(frozen=True, slots=True)
class Presented:
    """What a charger showed at the handshake."""

    password: str | None
    # The subject CNs of its client certificate, verified by TLS; None: it sent none.
    certificate_names: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class _Known:
    password_hash: str | None
    ocpp_protocol: str | None
    # Refused once it proved who it is (services.fleet).
    disabled: bool = False
    deleted: bool = False


def _known(charger: Charger | None) -> _Known | None:
    """What the handshake goes by: a deleted charger has no credentials that work (and is
    refused as late as a wrong password), while its id stays taken."""
    if charger is None:
        return None
    if charger.deleted_at is not None:
        return _Known(None, None, deleted=True)
    return _Known(charger.password_hash, charger.ocpp_protocol, charger.disabled)


async def admit(rt: Runtime, charge_point_id: str, presented: Presented) -> str | None:
    """Decide at the handshake whether this charger may connect at all; returns the OCPP
    subprotocol registered for it, if any."""
    known = _known(await rt.node.lookups.charger(charge_point_id))
    if presented.certificate_names is not None:
        # The CA vouched for the certificate; it names the one charger it may speak for. A
        # password beside it changes nothing.
        if presented.certificate_names != (charge_point_id,):
            raise ChargerRefused(
                f"client certificate subject CN {list(presented.certificate_names)} is not "
                f"{charge_point_id!r}"
            )
        if known is None or known.deleted:
            raise ChargerRefused(f"unknown charge point id {charge_point_id!r}")
        return _unless_disabled(charge_point_id, known)
    if known is None:
        known = await _unknown(rt, charge_point_id, presented.password)
    elif known.password_hash == INSECURE_NO_PASSWORD:
        log.warning(
            "INSECURE: admitted charger registered without a password; anyone who knows its id "
            "can connect as it (set a password or use client certificates)",
            extra={"charge_point_id": charge_point_id},
        )
    elif not await _password_ok(rt, presented.password, known.password_hash):
        raise ChargerRefused(f"wrong or missing credentials for {charge_point_id!r}")
    return _unless_disabled(charge_point_id, known)


def _unless_disabled(charge_point_id: str, known: _Known) -> str | None:
    if known.disabled:
        raise ChargerDisabled(f"charger {charge_point_id!r} is disabled by its operator")
    return known.ocpp_protocol


async def _unknown(rt: Runtime, charge_point_id: str, password: str | None) -> _Known:
    """An id with no row: refused, at the cost of a wrong password, unless auto-registration
    takes it."""
    mode = rt.node.auto_registration
    match mode:
        case AutoRegistration.OFF:
            await _password_ok(rt, password, None)
            raise ChargerRefused(f"unknown charge point id {charge_point_id!r}")
        case AutoRegistration.BOOTSTRAP_SECRET:
            bootstrap = rt.node.bootstrap_hash
            if not await _password_ok(rt, password, bootstrap):
                raise ChargerRefused(
                    f"unknown charge point id {charge_point_id!r} without the bootstrap secret"
                )
            return await _auto_register(rt, charge_point_id, bootstrap)
        case AutoRegistration.INSECURE:
            log.warning(
                "INSECURE: auto-registering a charger without a password "
                "(CHARGEGATE_AUTO_REGISTER_INSECURE); anyone who knows its id can connect as it",
                extra={"charge_point_id": charge_point_id},
            )
            return await _auto_register(rt, charge_point_id, INSECURE_NO_PASSWORD)
        case _:
            assert_never(mode)


async def _auto_register(rt: Runtime, charge_point_id: str, password_hash: str | None) -> _Known:
    try:
        return await _register(rt, charge_point_id, password_hash)
    except IntegrityError:
        # The unique id: a registration the lock below does not order (the CLI, or another
        # operator's row) inserted it first. Then it is that charger, or a refusal.
        async with rt.sessions() as session:
            charger = await charger_store.get_charger(session, charge_point_id)
        if charger is None:
            raise
        return _registered_meanwhile(charger, charge_point_id, password_hash)


def _registered_meanwhile(
    charger: Charger, charge_point_id: str, password_hash: str | None
) -> _Known:
    """A charger registered since this handshake found none (a handshake beside it, the CLI)."""
    if charger.password_hash != password_hash:
        raise ChargerRefused(f"wrong or missing credentials for {charge_point_id!r}")
    return _Known(charger.password_hash, charger.ocpp_protocol)


async def _register(rt: Runtime, charge_point_id: str, password_hash: str | None) -> _Known:
    # Once full, new ids keep coming (a leaked bootstrap secret): a read beside the writer
    # refuses them. A count below the bound admits nobody; the locked one below decides.
    async with rt.reads() as session:
        registered = await charger_store.named_operator_charger_count(
            session, rt.settings.auto_register_operator
        )
    if registered >= rt.settings.auto_register_max:
        raise _full(charge_point_id, registered)
    async with rt.sessions() as session, session.begin():
        operator = await operator_store.get_or_create_operator(
            session, rt.settings.auto_register_operator, utcnow(), for_update=True
        )
        # The operator row, locked above, makes concurrent auto-registrations take turns, so
        # they cannot all count below the bound and pass it together, nor all find no charger
        # of this id and insert it twice: this read comes after the one before us committed.
        charger = await charger_store.get_charger(session, charge_point_id)
        if charger is not None:
            return _registered_meanwhile(charger, charge_point_id, password_hash)
        registered = await charger_store.operator_charger_count(session, operator.id)
        if registered >= rt.settings.auto_register_max:
            raise _full(charge_point_id, registered)
        await charger_store.add_charger(
            session,
            charge_point_id=charge_point_id,
            operator_id=operator.id,
            password_hash=password_hash,
            now=utcnow(),
        )
    log.info("auto-registered charger", extra={"charge_point_id": charge_point_id})
    return _Known(password_hash, None)


def _full(charge_point_id: str, registered: int) -> ChargerRefused:
    log.warning(
        "refused auto-registration: CHARGEGATE_AUTO_REGISTER_MAX reached",
        extra={"charge_point_id": charge_point_id, "registered": registered},
    )
    return ChargerRefused(
        f"unknown charge point id {charge_point_id!r}: auto-registration is full "
        f"({registered} chargers)"
    )


async def _password_ok(rt: Runtime, password: str | None, stored: str | None) -> bool:
    """Whether `password` matches `stored`; a password sent costs one check of its form's kind
    however it ends (a scrypt one spared when this hash was matched before), none sent costs
    nothing."""
    if password is None:
        return False
    if is_generated_password(password):
        # Fast enough for the event loop: a reconnect storm costs no scrypt at all.
        return generated_password_matches(password, stored)
    if stored is None or not is_scrypt_hash(stored):
        # No scrypt hash to match (unknown id, a charger admitted by certificate only, or a
        # generated password's fast hash, which no other form matches): the same work as a
        # wrong password, then no.
        await rt.node.password_checks.run(password_matches, password, DUMMY_PASSWORD_HASH)
        return False
    cache = rt.node.passwords
    if cache.known_good(password, stored):
        return True
    if cache.known_wrong(password, stored):
        await rt.node.password_checks.pace()
        return False
    if not await rt.node.password_checks.run(password_matches, password, stored):
        return False
    cache.remember(password, stored)
    return True

"""Whether, and how, a charger with an unknown id may register itself on first contact."""

from __future__ import annotations

from enum import StrEnum

from chargegate.domain.credentials import GENERATED_PASSWORD_PREFIX, is_generated_password
from chargegate.domain.errors import ChargegateError

# A bootstrap secret is typed into every unit's configuration: long enough not to be guessed
# within the handshake failure limit, short enough to type.
SECRET_MIN_LENGTH = 16


class AutoRegistration(StrEnum):
    OFF = "off"
    # A new charger presenting the bootstrap secret as its password is registered with it.
    BOOTSTRAP_SECRET = "bootstrap_secret"
    # Any new id is registered without a password: anyone can then connect as it.
    INSECURE = "insecure"


class AutoRegistrationMisconfigured(ChargegateError, ValueError):
    pass


def auto_registration(enabled: bool, secret: str | None, insecure: bool) -> AutoRegistration:
    """The mode the settings ask for; auto-registration without credentials must be asked for
    by name, so that it is never what a forgotten setting gives."""
    if not enabled:
        return AutoRegistration.OFF
    if secret is not None and insecure:
        raise AutoRegistrationMisconfigured(
            "CHARGEGATE_AUTO_REGISTER_SECRET and CHARGEGATE_AUTO_REGISTER_INSECURE "
            "exclude each other"
        )
    if secret is not None:
        if len(secret) < SECRET_MIN_LENGTH:
            raise AutoRegistrationMisconfigured(
                f"CHARGEGATE_AUTO_REGISTER_SECRET must be at least {SECRET_MIN_LENGTH} characters"
            )
        if is_generated_password(secret):
            # A generated-form password is checked against a fast hash only; this one is
            # typed by people into every unit, so it stays scrypt and may not take that form.
            raise AutoRegistrationMisconfigured(
                f"CHARGEGATE_AUTO_REGISTER_SECRET may not start with {GENERATED_PASSWORD_PREFIX!r}"
                ": that prefix is kept for the charger passwords chargegate generates"
            )
        return AutoRegistration.BOOTSTRAP_SECRET
    if insecure:
        return AutoRegistration.INSECURE
    raise AutoRegistrationMisconfigured(
        "auto-registration needs a bootstrap secret (CHARGEGATE_AUTO_REGISTER_SECRET, which new "
        "chargers send as their password) or CHARGEGATE_AUTO_REGISTER_INSECURE=true"
    )

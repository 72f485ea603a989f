"""What the commands share: settings with the database brought up to date, and OCPP versions."""

from __future__ import annotations

from enum import StrEnum

from chargegate.config import Settings
from chargegate.domain.fleet import OcppVersion as OcppVersion


def settings() -> Settings:
    from chargegate.store.migrate import upgrade_sync

    settings = Settings()
    # Every command first brings the database up to the current schema.
    upgrade_sync(settings.database_url)
    return settings


class ChargerUnknownTokens(StrEnum):
    """`chargers unknown-tokens`: a charger's own policy, or its operator's (`operator`)."""

    REJECT = "reject"
    ACCEPT = "accept"
    OPERATOR = "operator"

"""What an API key may do: everything, or only drive charging sessions (the seed's endpoints),
as the key inside a mobile app's backend needs."""

from __future__ import annotations

from enum import StrEnum
from typing import assert_never


class Role(StrEnum):
    # Everything: chargers, cards, webhooks, commands, settings, and sessions.
    OPERATOR = "operator"
    # Only sessions: /1.2/transactions*, /1.2/queue/*, /1.2/ports.
    SESSIONS = "sessions"


def allows(held: Role, needed: Role) -> bool:
    """Whether a key of role `held` may call an endpoint that needs `needed`."""
    match held:
        case Role.OPERATOR:
            return True
        case Role.SESSIONS:
            return needed is Role.SESSIONS
        case _:
            assert_never(held)

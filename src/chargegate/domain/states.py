"""States of transactions, queue items and outbox commands."""

from __future__ import annotations

from enum import StrEnum


class TransactionState(StrEnum):
    PENDING = "Pending"
    OPEN = "Open"
    CLOSED = "Closed"
    FAILED = "Failed"

    @property
    def ended(self) -> bool:
        return self in (TransactionState.CLOSED, TransactionState.FAILED)


class QueueStatus(StrEnum):
    IN_PROGRESS = "IN PROGRESS"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


class QueueKind(StrEnum):
    START = "start"
    STOP = "stop"


class CommandStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class TransactionOrigin(StrEnum):
    API = "api"
    CHARGER = "charger"


class CommandAction(StrEnum):
    """Outbox actions, named by intent; each OCPP version maps them to its own message."""

    START = "start"
    STOP = "stop"
    # Move the fail-safe end of the charger's TxProfile to a new expiry.
    PROFILE = "profile"


class StagingInput(StrEnum):
    SUCCESS = "Success"
    FAILURE = "Failure"
    IN_PROGRESS = "InProgress"

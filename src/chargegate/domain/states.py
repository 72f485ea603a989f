"""States of transactions, queue items and outbox commands, and the commands' actions."""

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
    # A command on a charger (see ChargerAction).
    COMMAND = "command"


class CommandStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class TransactionOrigin(StrEnum):
    API = "api"
    CHARGER = "charger"


class TransactionAction(StrEnum):
    """Outbox actions on a transaction, named by intent; each OCPP version maps them to its own
    message."""

    START = "start"
    STOP = "stop"
    # Move the fail-safe end of the charger's TxProfile to a new expiry.
    PROFILE = "profile"
    # Ask the charger whether a transaction whose stop did not take is still running.
    RECONCILE = "reconcile"


class ChargerAction(StrEnum):
    """Outbox actions on a charger (or one of its ports), outside any transaction. The API
    names them by these values; each OCPP version maps them to its own message."""

    # Clear the charger's authorization cache (1.6 and 2.0.1 ClearCache).
    CLEAR_CACHE = "clear_cache"
    # Ask for the version of the charger's local authorization list (GetLocalListVersion).
    GET_LOCAL_LIST_VERSION = "get_local_list_version"
    # Bring the charger's local authorization list in sync with the operator's tokens: it
    # opens with GetLocalListVersion, then SendLocalList (see services.local_lists).
    SEND_LOCAL_LIST = "send_local_list"
    # Restart the charger (1.6 Reset Soft/Hard, 2.0.1 Reset Immediate/OnIdle).
    RESET = "reset"
    # Have the charger download and install firmware (1.6 and 2.0.1 UpdateFirmware).
    UPDATE_FIRMWARE = "update_firmware"
    # Have the charger upload its diagnostics log (1.6 GetDiagnostics, 2.0.1 GetLog).
    GET_DIAGNOSTICS = "get_diagnostics"
    # Release a port's cable lock (UnlockConnector).
    UNLOCK_CONNECTOR = "unlock_connector"
    # Take a port, or the whole charger, in or out of service (ChangeAvailability).
    CHANGE_AVAILABILITY = "change_availability"
    # Have the charger send one of its messages now (TriggerMessage).
    TRIGGER_MESSAGE = "trigger_message"
    # A vendor's own message (DataTransfer).
    DATA_TRANSFER = "data_transfer"
    # Read the charger's configuration (1.6 GetConfiguration; 2.0.1 GetVariables, or for all of
    # it GetBaseReport and the NotifyReport parts that follow), or change it (1.6
    # ChangeConfiguration, 2.0.1 SetVariables): see domain.configuration.
    GET_CONFIGURATION = "get_configuration"
    CHANGE_CONFIGURATION = "change_configuration"
    # Smart charging (1.6 SmartCharging profile, 2.0.1 K): install a charging profile, clear
    # profiles, read the charger's composite schedule (see domain.charging_profiles).
    SET_CHARGING_PROFILE = "set_charging_profile"
    CLEAR_CHARGING_PROFILE = "clear_charging_profile"
    GET_COMPOSITE_SCHEDULE = "get_composite_schedule"


class ReservationAction(StrEnum):
    """Outbox actions on a reservation (1.6 and 2.0.1 ReserveNow, CancelReservation): sent
    through /1.2/reservations, never as a bare command, since they carry the reservation."""

    # Short: the outbox's action column holds 16 characters.
    RESERVE = "reserve"
    CANCEL = "reserve_cancel"


# What the outbox holds: the kinds share one column, so their values never overlap.
CommandAction = TransactionAction | ChargerAction | ReservationAction


def command_action(stored: str) -> CommandAction:
    """The action a command row holds (ValueError for none of ours)."""
    for kind in (TransactionAction, ChargerAction):
        try:
            return kind(stored)
        except ValueError:
            pass
    return ReservationAction(stored)


class StopState(StrEnum):
    """Where a stop that has been asked for stands, until its transaction is closed."""

    # In the outbox, or sent and not answered yet.
    REQUESTED = "requested"
    # The charger accepted it; its report of the ended transaction is awaited.
    ACCEPTED = "accepted"
    # The charger is being asked whether the transaction still runs (then the stop goes again).
    RECONCILING = "reconciling"
    # The last attempt did not take (refused, undelivered, or accepted and never reported):
    # the next one is due at the transaction's stop_retry_at.
    RETRYING = "retrying"


class Liveness(StrEnum):
    """What a charger told us, when asked, about a transaction we are trying to stop."""

    RUNNING = "running"
    ENDED = "ended"
    # Its report is on the way: the ended transaction is still queued at the charger (2.0.1
    # messagesInQueue), or it will send the status we triggered (1.6 TriggerMessage).
    REPORT_COMING = "report_coming"
    UNKNOWN = "unknown"


class StagingInput(StrEnum):
    SUCCESS = "Success"
    FAILURE = "Failure"
    IN_PROGRESS = "InProgress"


class ReservationState(StrEnum):
    # ReserveNow in the outbox or sent, not answered yet.
    PENDING = "pending"
    # The charger holds the port (or itself) for the reservation's token.
    RESERVED = "reserved"
    # The charger refused it (Occupied, Faulted, Unavailable, Rejected) or never answered.
    FAILED = "failed"
    # Cancelled through the API, or removed at the charger (2.0.1 ReservationStatusUpdate).
    CANCELLED = "cancelled"
    # A session began with it.
    USED = "used"
    EXPIRED = "expired"

    @property
    def ended(self) -> bool:
        return self not in (ReservationState.PENDING, ReservationState.RESERVED)

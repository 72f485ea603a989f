"""Answers that read the same in every OCPP version."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ocpp.v16.enums import (
    Action,
    AvailabilityStatus,
    DataTransferStatus,
    RegistrationStatus,
    UnlockStatus,
)
from ocpp.v201.enums import Action as Action201

from chargegate.domain.command_params import DataTransferParams
from chargegate.domain.configuration import ConfigRead
from chargegate.domain.local_lists import Capabilities
from chargegate.domain.times import format_ocpp, ocpp_now, utcnow
from chargegate.ocpp.rpc import Handler, Payload
from chargegate.services import charger_reports
from chargegate.services.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Probed:
    """What a charger says about itself when asked after boot, in one question."""

    # It takes charging profiles (the fail-safe TxProfile).
    smart_charging: bool
    local_list: Capabilities
    # The keys asked, as read: for the configuration cache (None: nothing was read).
    configuration: ConfigRead | None = None
    # 1.6 SupportedFeatureProfiles as the charger names them; None: not asked (2.0.1) or no
    # answer.
    feature_profiles: list[str] | None = None


# The answers (the same words in both versions) of a charger that did, or will do, as asked:
# Scheduled (Reset, ChangeAvailability) once its transactions have ended.
DONE = frozenset({AvailabilityStatus.accepted, AvailabilityStatus.scheduled, UnlockStatus.unlocked})

NOT_PROBED = Probed(smart_charging=False, local_list=Capabilities(supported=False))


def boot_accepted(rt: Runtime, on_boot: Callable[[], None]) -> Payload:
    on_boot()
    return {
        "status": RegistrationStatus.accepted,
        "currentTime": format_ocpp(utcnow()),
        "interval": rt.settings.heartbeat_interval_s,
    }


def shared_handlers(rt: Runtime, charge_point_id: str) -> dict[str, Handler]:
    async def heartbeat(payload: Payload) -> Payload:
        charger_reports.seen(rt, charge_point_id)
        return {"currentTime": ocpp_now()}

    async def data_transfer(payload: Payload) -> Payload:
        # We define no vendor extensions; saying so lets the charger stop retrying.
        return {"status": DataTransferStatus.unknown_vendor_id}

    return {Action.heartbeat: heartbeat, Action.data_transfer: data_transfer}


async def acknowledge(payload: Payload) -> Payload:
    """For notifications we take note of and have nothing to answer."""
    return {}


def data_transfer(params: DataTransferParams) -> Payload:
    """A DataTransfer, worded alike in both versions."""
    payload: Payload = {"vendorId": params.vendor_id}
    if params.message_id is not None:
        payload["messageId"] = params.message_id
    if params.data is not None:
        payload["data"] = params.data
    return payload


def rejected(action: str, status: object) -> str:
    match action:
        case Action.remote_start_transaction | Action201.request_start_transaction:
            why = "the port may be occupied, faulted or unavailable"
            return f"The charger rejected the start request ({action}: {status}); {why}"
        case Action.remote_stop_transaction | Action201.request_stop_transaction:
            why = "the charger may not know the transaction"
            return f"The charger rejected the stop request ({action}: {status}); {why}"
        case Action.reserve_now | Action201.reserve_now:
            return f"The charger refused the reservation ({action}: {status})"
        case _:
            return f"The charger rejected {action} ({status})"

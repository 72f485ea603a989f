"""Commands for chargers, as the charger side sends them: what to send (an Order), what came
back (a Reply), and the link to the chargers this node holds. Each OCPP version words an Order
as its own CALL (ocpp/v16/orders.py, ocpp/v201/orders.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from chargegate.domain.charging_profiles import ChargingLimit
from chargegate.domain.command_params import CommandParams
from chargegate.domain.configuration import ConfigRead
from chargegate.domain.errors import ChargegateError
from chargegate.domain.local_lists import Outcome, Plan
from chargegate.domain.states import CommandAction, Liveness


@dataclass(frozen=True, slots=True)
class TransactionOrder:
    """What a command on a transaction (start, stop, fail-safe update, reconcile) needs."""

    # Ours (also the 1.6 transactionId and the 2.0.1 remoteStartId), and the 2.0.1 charger's.
    id: int
    id_tag: str
    charger_transaction_id: str | None
    expires_at: datetime | None
    # Carry a TxProfile that ends charging at expires_at (the charger takes profiles).
    fail_safe: bool
    fail_safe_limit_a: float
    # The session's own limit (POST /transactions max_current_a / max_power_w): the TxProfile's
    # until expires_at, in place of fail_safe_limit_a.
    limit: ChargingLimit | None = None


@dataclass(frozen=True, slots=True)
class ReservationOrder:
    """What a ReserveNow or CancelReservation needs."""

    # Ours, and the OCPP reservationId.
    id: int
    id_tag: str
    parent_id_tag: str | None
    # 2.0.1 IdTokenEnumType of id_tag.
    token_type: str
    expires_at: datetime


# A CALLRESULT payload, as the charger sent it.
Payload = dict[str, Any]
P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Order:
    """A command as the charger side needs it, independent of the OCPP version."""

    action: CommandAction
    issued_at: datetime
    # The port it is for: a transaction's, or the command's own; None for the whole charger.
    connector_id: int | None
    transaction: TransactionOrder | None = None
    # What a sync of the charger's local list sends (ChargerAction.SEND_LOCAL_LIST).
    local_list: Plan | None = None
    reservation: ReservationOrder | None = None
    # A command on a charger's parameters (ChargerAction; None for one without).
    params: CommandParams = None
    # The outbox row's id, unique among ours: the OCPP requestId of a request whose progress
    # or parts the charger sends under it (2.0.1 UpdateFirmware, GetLog, GetBaseReport).
    command_id: int = 0

    def params_as(self, kind: type[P]) -> P:
        """The params of a command whose action takes `kind` (its arm in command_params)."""
        if not isinstance(self.params, kind):
            raise ValueError(f"a {self.action} command without its {kind.__name__}")
        return self.params

    @property
    def on_transaction(self) -> TransactionOrder:
        """The transaction of a transaction command (every TransactionAction has one)."""
        if self.transaction is None:
            raise ValueError(f"a {self.action} command without a transaction")
        return self.transaction

    @property
    def on_reservation(self) -> ReservationOrder:
        """The reservation of a reservation command (every ReservationAction has one)."""
        if self.reservation is None:
            raise ValueError(f"a {self.action} command without a reservation")
        return self.reservation

    @property
    def on_port(self) -> int:
        """The connector (1.6) or EVSE (2.0.1) of a command on a port."""
        if self.connector_id is None:
            raise ValueError(f"a {self.action} command without a port")
        return self.connector_id


@dataclass(frozen=True, slots=True)
class Reply:
    accepted: bool
    detail: str
    # A 2.0.1 charger may name its transaction in the answer to a start.
    charger_transaction_id: str | None = None
    # The answer to a reconcile: whether the transaction still runs at the charger.
    liveness: Liveness = Liveness.UNKNOWN
    # What a local-list sync or version question came to.
    local_list: Outcome | None = None
    # The charger's answer (the CALLRESULT payload); None: it answered with a CALLERROR.
    answer: Payload | None = None
    # What a configuration read came to (get_configuration), for the cache.
    configuration: ConfigRead | None = None
    # A 2.0.1 change of several variables: the keys the charger did not set (None: all of them
    # or none, as accepted says).
    refused_keys: tuple[str, ...] | None = None
    # The charger took a 2.0.1 GetBaseReport: its report follows in NotifyReport parts.
    report_coming: bool = False


class NotDelivered(ChargegateError):
    """The order did not reach the charger, or its answer did not reach us."""


class ChargerLink(Protocol):
    """Sends orders to chargers whose sockets this node holds (implemented by the OCPP layer)."""

    async def execute(self, charge_point_id: str, epoch: int, order: Order) -> Reply: ...


def offline_reason(charge_point_id: str, what: str) -> str:
    """Why `what` (the start, the command) was not sent: its charger is not connected."""
    return (
        f"Charger {charge_point_id} is offline (not connected to chargegate), so {what} was not "
        "sent. Check the charger's power and network, then try again."
    )

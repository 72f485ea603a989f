"""The schema. Times are stored as naive UTC and come back as aware UTC datetimes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from chargegate.domain.charging_profiles import RateUnit
from chargegate.domain.local_lists import ListState
from chargegate.domain.roles import Role
from chargegate.domain.settings import BlockedSessions, ConcurrentTx
from chargegate.domain.states import (
    CommandAction,
    CommandStatus,
    QueueKind,
    QueueStatus,
    ReservationState,
    StopState,
    TransactionOrigin,
    TransactionState,
    command_action,
)
from chargegate.domain.tokens import TokenStatus, TokenType, UnknownTokens, Verdict
from chargegate.domain.webhooks import DeliveryStatus, EventType


class UtcDateTime(TypeDecorator[datetime]):
    """SQLite has no timezone-aware type; keep UTC in storage and aware values in Python."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


E = TypeVar("E", bound=StrEnum)


class StoredEnum(TypeDecorator[E]):
    """A domain enum kept as its value in a plain VARCHAR column: no native enum type and no
    CHECK constraint, so the schema is the string column it always was. Reads give the member;
    writes (ORM attributes and Core statements alike) take a member or its value, and refuse
    anything else with ValueError."""

    impl = String
    cache_ok = True

    def __init__(self, parse: Callable[[str], E], length: int) -> None:
        super().__init__(length)
        # The enum class itself, or a function of the stored value (a column shared by two).
        self.parse = parse
        self.length = length

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.parse(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.parse(value)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict[str, Any]: JSON}


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime]
    # domain.tokens.UnknownTokens: what chargers are told of a token not in the registry.
    unknown_tokens: Mapped[UnknownTokens] = mapped_column(
        StoredEnum(UnknownTokens, 8), server_default=UnknownTokens.REJECT.value
    )
    # domain.settings: the operator's other token policies.
    concurrent_tx: Mapped[ConcurrentTx] = mapped_column(
        StoredEnum(ConcurrentTx, 8), server_default=ConcurrentTx.TOKEN.value
    )
    blocked_sessions: Mapped[BlockedSessions] = mapped_column(
        StoredEnum(BlockedSessions, 8), server_default=BlockedSessions.CONTINUE.value
    )
    clear_cache_on_block: Mapped[bool] = mapped_column(Boolean, server_default=true())


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    # The public part of the key, used to find the row; the secret is only ever stored hashed.
    lookup: Mapped[str] = mapped_column(String(32), unique=True)
    # scrypt (see domain.credentials); a bare sha256 hex digest for keys from before 0003.
    key_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    # Set by `chargegate apikey revoke`; every request re-reads it, so it applies at once.
    revoked_at: Mapped[datetime | None]
    # domain.roles.Role: which endpoints the key may call.
    role: Mapped[Role] = mapped_column(
        StoredEnum(Role, 16), default=Role.OPERATOR, server_default=Role.OPERATOR.value
    )


class Charger(Base):
    __tablename__ = "chargers"

    id: Mapped[int] = mapped_column(primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(String(48), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # The subprotocol last negotiated, and the one the operator registered (wins when offered).
    ocpp_version: Mapped[str | None] = mapped_column(String(10))
    ocpp_protocol: Mapped[str | None] = mapped_column(String(16))
    # Whether the charger takes charging profiles (asked after each boot); None: not known yet.
    smart_charging: Mapped[bool | None] = mapped_column(Boolean)
    vendor: Mapped[str | None] = mapped_column(String(50))
    model: Mapped[str | None] = mapped_column(String(50))
    # From its last BootNotification (OCPP's own bounds: CiString25 and CiString50).
    serial_number: Mapped[str | None] = mapped_column(String(25))
    firmware_version: Mapped[str | None] = mapped_column(String(50))
    # 1.6 SupportedFeatureProfiles, as probed after boot; None: not known (or 2.0.1).
    feature_profiles: Mapped[list[str] | None] = mapped_column(JSON)
    # The last FirmwareStatusNotification and DiagnosticsStatusNotification (or 2.0.1
    # LogStatusNotification), and when they came.
    firmware_status: Mapped[str | None] = mapped_column(String(32))
    firmware_status_at: Mapped[datetime | None]
    diagnostics_status: Mapped[str | None] = mapped_column(String(32))
    diagnostics_status_at: Mapped[datetime | None]
    # Refused at the handshake (and sent away when connected) until enabled again.
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Deleted through the API: gone from it and refused at the handshake, while its past
    # transactions (which name its ports) stay readable. Its id stays taken.
    deleted_at: Mapped[datetime | None]
    # Which node holds the charger's socket, and the epoch of that connection: a node may only
    # send when its epoch is still the current one.
    connected_node: Mapped[str | None] = mapped_column(String(64))
    connection_epoch: Mapped[int] = mapped_column(Integer, default=0)
    connected_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # This charger's answer to a token not in the registry; None: its operator's.
    unknown_tokens: Mapped[UnknownTokens | None] = mapped_column(StoredEnum(UnknownTokens, 8))


class Port(Base):
    __tablename__ = "ports"
    __table_args__ = (UniqueConstraint("charger_id", "connector_id"),)

    port_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    charger_id: Mapped[int] = mapped_column(ForeignKey("chargers.id"), index=True)
    connector_id: Mapped[int]
    status: Mapped[str | None] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(50))
    status_at: Mapped[datetime | None]
    # Taken off the charger through the API (connectors lowered): no longer listed or started
    # on; kept, as its past transactions name it. Raising connectors again brings it back.
    removed_at: Mapped[datetime | None]


_OPEN = f"state = '{TransactionState.OPEN.value}'"


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (
        # The transaction open on a port: what every 2.0.1 MeterValues looks for. The index on
        # state keeps an entry for each version of every Open row until the table is vacuumed,
        # and a plan that combined it with the port's index read them all for each reading
        # (PostgreSQL: 2-10 ms a reading in the reconnect storm at 20,000 chargers).
        Index(
            "ix_transactions_open",
            "port_uuid",
            postgresql_where=text(_OPEN),
            sqlite_where=text(_OPEN),
        ),
    )

    # The integer id doubles as the OCPP 1.6 transactionId we give the charger.
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    transaction_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    port_uuid: Mapped[str] = mapped_column(ForeignKey("ports.port_uuid"), index=True)
    staging: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[TransactionState] = mapped_column(StoredEnum(TransactionState, 16), index=True)
    invoice_id: Mapped[str | None] = mapped_column(String(255))
    # "api" for sessions started through the API; "charger" for ones begun at the charger.
    origin: Mapped[TransactionOrigin] = mapped_column(
        StoredEnum(TransactionOrigin, 8), default=TransactionOrigin.API
    )
    id_tag: Mapped[str] = mapped_column(String(36), index=True)
    # OCPP 2.0.1 chargers name their transactions themselves.
    charger_transaction_id: Mapped[str | None] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    # Set once a stop has been asked for (by the API or by expiry): the guard against a second one.
    stop_requested_at: Mapped[datetime | None]
    stop_reason: Mapped[str | None] = mapped_column(String(64))
    # A requested stop until the transaction is closed (domain.states.StopState), when its next
    # step is due (the scheduler's), how many attempts did not take, and why the last did not.
    stop_state: Mapped[StopState | None] = mapped_column(StoredEnum(StopState, 16))
    stop_retry_at: Mapped[datetime | None] = mapped_column(index=True)
    stop_attempts: Mapped[int] = mapped_column(Integer, default=0)
    stop_error: Mapped[str | None] = mapped_column(Text)
    # The expiry the charger's TxProfile currently ends at (fail-safe stop), if it has one.
    profile_until: Mapped[datetime | None]
    meter_start_wh: Mapped[int | None]
    meter_last_wh: Mapped[int | None]
    meter_stop_wh: Mapped[int | None]
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # What the charger was told of the token of a transaction it began itself (domain.tokens
    # Verdict): only an Accepted one is a session the API shows; the others are kept (their
    # stop must find them) but stay out of sight. None until answered, and for API starts.
    start_verdict: Mapped[Verdict | None] = mapped_column(StoredEnum(Verdict, 16))
    # The charger's own reason for the end (1.6 Reason, 2.0.1 stoppedReason), as it said it.
    charger_stop_reason: Mapped[str | None] = mapped_column(String(32))
    # The start's limit (API max_current_a: A, max_power_w: W), carried in its TxProfile.
    limit_unit: Mapped[RateUnit | None] = mapped_column(StoredEnum(RateUnit, 1))
    limit_value: Mapped[float | None] = mapped_column(Float)
    # Who gets room first on a site's circuits (higher first, then arrival).
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The site balancer's last allocation (A per phase; 0: waiting for room), and the charger's
    # last measured draw (MeterValues Current.Import, Power.Active.Import).
    allocated_a: Mapped[float | None] = mapped_column(Float)
    # A lowering sent and not yet answered: the allocation it sets, and its command. Until it is
    # answered the session still counts at allocated_a (services.site_balancer).
    allocation_pending_a: Mapped[float | None] = mapped_column(Float)
    allocation_command_id: Mapped[int | None] = mapped_column(Integer)
    # The expiry the balancer's TxProfile ends at (0 A from then on): a PATCHed expiry is sent
    # again, or the session would be cut at the old one.
    allocation_until: Mapped[datetime | None]
    measured_current_a: Mapped[float | None] = mapped_column(Float)
    measured_power_w: Mapped[float | None] = mapped_column(Float)


class QueueItem(Base):
    __tablename__ = "queue_items"

    queue_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    # None for a command on a charger (its command row names the item).
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"), index=True)
    kind: Mapped[QueueKind] = mapped_column(StoredEnum(QueueKind, 8))
    staging: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[QueueStatus] = mapped_column(StoredEnum(QueueStatus, 16), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    # A start that has not succeeded by then fails ("no EV plugged in").
    deadline_at: Mapped[datetime | None] = mapped_column(index=True)
    resolved_at: Mapped[datetime | None]


_PENDING = f"status = '{CommandStatus.PENDING.value}'"


class Command(Base):
    """The outbox: a command for a charger is a row before it is a message."""

    __tablename__ = "commands"
    __table_args__ = (
        # The commands waiting to be claimed, by charger: what each wake-up of a dispatcher
        # looks for. The index on status also keeps every finished command's PENDING entry
        # until the table is vacuumed, and a plan that probes it once per connected charger
        # read them all each time (PostgreSQL: 0.2-0.6 s a wake-up at 6,000-10,000 sessions).
        Index(
            "ix_commands_pending",
            "charger_id",
            postgresql_where=text(_PENDING),
            sqlite_where=text(_PENDING),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    charger_id: Mapped[int] = mapped_column(ForeignKey("chargers.id"), index=True)
    # What it is for: a transaction, or else a port (connector_id) or the whole charger.
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"), index=True)
    connector_id: Mapped[int | None]
    # The queue item an API caller follows it by (commands on a transaction have theirs).
    queue_uuid: Mapped[str | None] = mapped_column(ForeignKey("queue_items.queue_uuid"), index=True)
    # The reservation a ReserveNow or CancelReservation is for.
    reservation_id: Mapped[int | None] = mapped_column(ForeignKey("reservations.id"), index=True)
    action: Mapped[CommandAction] = mapped_column(StoredEnum(command_action, 32))
    status: Mapped[CommandStatus] = mapped_column(StoredEnum(CommandStatus, 16), index=True)
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Sent, but a crash came before the answer: wait for the charger to settle before resending.
    in_doubt: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(Text)
    # A command on a charger: its parameters (domain.command_params.to_json), the charger's
    # answer (the CALLRESULT payload), and until when it may wait for an offline charger.
    params: Mapped[dict[str, Any] | None]
    answer: Mapped[dict[str, Any] | None]
    expires_at: Mapped[datetime | None]


class Webhook(Base):
    """An operator's endpoint for events. The secret signs each delivery, so it is kept as is
    (like any HMAC key), and shown only when the webhook is added."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """The webhook outbox: an event is a row in the same database transaction as the change it
    reports, then a sender POSTs it, in order per `ordering_key` (a transaction or a port)."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[EventType] = mapped_column(StoredEnum(EventType, 32))
    ordering_key: Mapped[str] = mapped_column(String(64), index=True)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(StoredEnum(DeliveryStatus, 16), index=True)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class IdempotencyRecord(Base):
    """The first answer to a request sent with an Idempotency-Key, replayed to its retries."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("operator_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    key: Mapped[str] = mapped_column(String(255))
    # Method, path and a digest of the body: the same key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)


class IdToken(Base):
    """An operator's card (or other ID token) and what chargers are told about it."""

    __tablename__ = "id_tokens"
    # Case-folded: OCPP compares tokens case-insensitively. Sandbox tokens are a registry of
    # their own, which no charger ever reads.
    __table_args__ = (UniqueConstraint("operator_id", "staging", "id_tag_folded"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    staging: Mapped[bool] = mapped_column(Boolean)
    id_tag: Mapped[str] = mapped_column(String(36))
    id_tag_folded: Mapped[str] = mapped_column(String(36))
    type: Mapped[TokenType] = mapped_column(StoredEnum(TokenType, 20))
    status: Mapped[TokenStatus] = mapped_column(StoredEnum(TokenStatus, 16))
    expires_at: Mapped[datetime | None]
    parent_id_tag: Mapped[str | None] = mapped_column(String(36))
    note: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LocalList(Base):
    """A charger's local authorization list, as we keep it in sync with its operator's tokens
    (a row once the charger has been asked whether it has one)."""

    __tablename__ = "local_lists"

    charger_id: Mapped[int] = mapped_column(ForeignKey("chargers.id"), primary_key=True)
    supported: Mapped[bool] = mapped_column(Boolean)
    # What the charger takes: entries per SendLocalList, entries in all (None: not said).
    per_message: Mapped[int | None]
    capacity: Mapped[int | None]
    state: Mapped[ListState] = mapped_column(StoredEnum(ListState, 16))
    # The version we last had accepted, and the one the charger last reported.
    version: Mapped[int] = mapped_column(Integer, default=0)
    charger_version: Mapped[int | None]
    # The next sync sends the full list whatever the charger reports (first sync, a refusal,
    # a forced resend).
    full_needed: Mapped[bool] = mapped_column(Boolean, default=True)
    # Full resends after Failed or VersionMismatch since the last sync that took.
    resends: Mapped[int] = mapped_column(Integer, default=0)
    last_synced_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class LocalListEntry(Base):
    """A token as the charger's local list holds it, by our last accepted SendLocalList: what
    the next differential is computed against."""

    __tablename__ = "local_list_entries"

    charger_id: Mapped[int] = mapped_column(ForeignKey("chargers.id"), primary_key=True)
    id_tag_folded: Mapped[str] = mapped_column(String(36), primary_key=True)
    id_tag: Mapped[str] = mapped_column(String(36))
    type: Mapped[TokenType] = mapped_column(StoredEnum(TokenType, 20))
    verdict: Mapped[Verdict] = mapped_column(StoredEnum(Verdict, 16))
    expires_at: Mapped[datetime | None]
    parent_id_tag: Mapped[str | None] = mapped_column(String(36))
    parent_type: Mapped[TokenType | None] = mapped_column(StoredEnum(TokenType, 20))


class Reservation(Base):
    """A port (or a whole charger) held for a token until `expires_at`."""

    __tablename__ = "reservations"

    # The integer id doubles as the OCPP reservationId (1.6 and 2.0.1).
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    reservation_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    charger_id: Mapped[int] = mapped_column(ForeignKey("chargers.id"), index=True)
    # None: the charger as a whole (1.6 connectorId 0, 2.0.1 without evseId).
    port_uuid: Mapped[str | None] = mapped_column(ForeignKey("ports.port_uuid"), index=True)
    staging: Mapped[bool] = mapped_column(Boolean, default=False)
    id_tag: Mapped[str] = mapped_column(String(36))
    parent_id_tag: Mapped[str | None] = mapped_column(String(36))
    # 2.0.1 IdTokenEnumType of id_tag (the registry's, else Central).
    token_type: Mapped[TokenType] = mapped_column(StoredEnum(TokenType, 20))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    state: Mapped[ReservationState] = mapped_column(StoredEnum(ReservationState, 16), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # The session that used it.
    transaction_uuid: Mapped[str | None] = mapped_column(
        ForeignKey("transactions.transaction_uuid")
    )


class ConfigurationKey(Base):
    """A charger's configuration key (2.0.1: variable) as last read, or as last changed through
    us (domain.configuration names 2.0.1 variables as keys)."""

    __tablename__ = "configuration_keys"

    charger_id: Mapped[int] = mapped_column(ForeignKey("chargers.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # None: not said (a write-only key; a 2.0.1 variable read without its mutability).
    value: Mapped[str | None] = mapped_column(Text)
    readonly: Mapped[bool | None] = mapped_column(Boolean)
    read_at: Mapped[datetime]


class ChargingProfile(Base):
    """A profile chargegate set on a charger (its answer Accepted), kept until cleared: re-sent
    after the charger boots (services.charging_profiles), listed per charger."""

    __tablename__ = "charging_profiles"

    charger_id: Mapped[int] = mapped_column(ForeignKey("chargers.id"), primary_key=True)
    # The OCPP chargingProfileId.
    profile_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    port: Mapped[int]
    purpose: Mapped[str] = mapped_column(String(32))
    stack_level: Mapped[int]
    # The command's params (domain.charging_profiles, as command_params.to_json wrote them).
    params: Mapped[dict[str, Any]]
    set_at: Mapped[datetime]


class ReportPart(Base):
    """A NotifyReport part of a 2.0.1 base report that a get_configuration asked for, kept until
    the last part has come and the whole report is the command's answer."""

    __tablename__ = "report_parts"

    command_id: Mapped[int] = mapped_column(ForeignKey("commands.id"), primary_key=True)
    seq_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    # More parts follow (tbc); the last one says false.
    tbc: Mapped[bool] = mapped_column(Boolean)
    # {"reportData": the charger's words, "entries": [[key, value, readonly], ...] as read}.
    data: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]


class Site(Base):
    """A site's grid connection (no parent) or a circuit inside one (a feeder): a limit that the
    sessions on the chargers and ports under it share (services.sites, domain.balancer)."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    site_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # Exactly one is set: A per phase, or W over all phases.
    max_current_a: Mapped[float | None] = mapped_column(Float)
    max_power_w: Mapped[float | None] = mapped_column(Float)
    phases: Mapped[int] = mapped_column(Integer)
    voltage: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    # A site's (root's) balancer: the node that runs it, until when (a lease it renews).
    balancer_node: Mapped[str | None] = mapped_column(String(64))
    balancer_until: Mapped[datetime | None]


class SiteMember(Base):
    """A charger (port_uuid None: all its ports) or a single port under a site or circuit."""

    __tablename__ = "site_members"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    charger_id: Mapped[int] = mapped_column(ForeignKey("chargers.id"), index=True)
    port_uuid: Mapped[str | None] = mapped_column(ForeignKey("ports.port_uuid"), unique=True)


class SiteAllocation(Base):
    """One decision of a site's balancer: every open session's allocation from `at` on."""

    __tablename__ = "site_allocations"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    at: Mapped[datetime]
    # {transaction_uuid: A per phase}
    amps: Mapped[dict[str, Any]]

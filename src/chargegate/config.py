"""Runtime settings, read from `CHARGEGATE_*` environment variables."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///chargegate.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHARGEGATE_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    # Multi-node mode: a Redis URL for wake-ups and evictions between nodes (none: poll only).
    broker_url: str | None = None
    node_id: str = "node-1"
    # How long the charger has, after a start request, to report a started transaction.
    start_timeout_s: float = 120.0
    # How long we wait for a charger to answer one of our OCPP calls.
    call_timeout_s: float = 30.0
    heartbeat_interval_s: int = 300
    # Safety net: how often the outbox and scheduler look at the database without a wake-up.
    poll_interval_s: float = 2.0
    # After a crash, a command that may or may not have reached the charger is sent again only
    # once the charger has been back this long (time to flush what it queued meanwhile).
    resend_settle_s: float = 5.0
    # WebSocket keep-alive: a charger that misses a pong for this long is marked offline.
    ws_ping_interval_s: float = 20.0
    ws_ping_timeout_s: float = 20.0
    # Most CALLs a charger may send per second (sustained) and in one burst; beyond that the
    # connection is closed with 1008 (policy violation), which a sane charger never triggers.
    charger_rate_per_s: float = 20.0
    charger_burst: int = 200
    # The first period of a fail-safe TxProfile allows this current; the second (at expires) 0 A.
    tx_profile_limit_a: float = 80.0
    auto_register: bool = False
    auto_register_operator: str = "default"
    # Largest OCPP frame accepted from a charger, in bytes.
    ws_max_size: int = 65536
    log_level: str = "warning"

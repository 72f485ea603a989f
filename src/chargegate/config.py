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
    # Webhook deliveries: the first retry waits this long, each next one twice as long (to 1 h).
    webhook_retry_base_s: float = 5.0
    webhook_timeout_s: float = 10.0
    # After a crash, a command that may or may not have reached the charger is sent again only
    # once the charger has been back this long (time to flush what it queued meanwhile).
    resend_settle_s: float = 5.0
    # WebSocket keep-alive: a charger that misses a pong for this long is marked offline.
    ws_ping_interval_s: float = 20.0
    ws_ping_timeout_s: float = 20.0
    # A charger's last_seen_at (shown on the dashboard) is written at most this often: whether
    # it is online comes from its socket, and a write per heartbeat would cost the most.
    seen_write_interval_s: float = 60.0
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
    # A client address whose charger handshakes failed this many times (unknown id, wrong
    # password, no OCPP subprotocol) within the window gets 429 before any password check.
    charger_handshake_failures: int = 20
    charger_handshake_failure_window_s: float = 60.0
    # Most charger handshakes one client address may have under way at once (beyond: 429).
    charger_handshakes_per_ip: int = 100
    # Most API requests per second (sustained) and at once, per API key, on each node.
    api_rate_per_s: float = 50.0
    api_burst: int = 100
    # A client address whose requests failed authentication this many times within the window
    # gets 429 (key guessing, and the scrypt work each guess costs us, are throttled).
    api_auth_failures: int = 100
    api_auth_failure_window_s: float = 60.0
    # Largest API request body, in bytes (beyond: 413).
    api_max_body_bytes: int = 65536
    # OCPP security profile 2: serve HTTPS and wss:// with this certificate chain and key (PEM).
    tls_cert: str | None = None
    tls_key: str | None = None
    log_level: str = "warning"

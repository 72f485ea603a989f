"""Runtime settings, read from `CHARGEGATE_*` environment variables."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///chargegate.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHARGEGATE_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    node_id: str = "node-1"
    # How long the charger has, after a start request, to report a started transaction.
    start_timeout_s: float = 120.0
    # How long we wait for a charger to answer one of our OCPP calls.
    call_timeout_s: float = 30.0
    heartbeat_interval_s: int = 300
    # Safety net: how often the outbox and scheduler look at the database without a wake-up.
    poll_interval_s: float = 2.0
    auto_register: bool = False
    auto_register_operator: str = "default"
    # Largest OCPP frame accepted from a charger, in bytes.
    ws_max_size: int = 65536
    log_level: str = "warning"

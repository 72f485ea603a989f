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
    # How long a command sent through the API (ClearCache, ...) may take to be answered,
    # including the time its charger is offline, before its queue item fails.
    command_timeout_s: float = 120.0
    # How long we wait for a charger to answer one of our OCPP calls.
    call_timeout_s: float = 30.0
    heartbeat_interval_s: int = 300
    # Safety net: how often the outbox and scheduler look at the database without a wake-up.
    poll_interval_s: float = 2.0
    # How long a node holds a site's balancer without renewing it: when a node dies, another
    # takes its sites over within this long (plus a third of it, its own poll).
    site_lease_s: float = 10.0
    # Webhook deliveries: the first retry waits this long, each next one twice as long (to 1 h).
    webhook_retry_base_s: float = 5.0
    # A webhook POST's whole life (resolving, connecting, sending, the answer): a receiver
    # trickling bytes cannot stretch it.
    webhook_timeout_s: float = 10.0
    # POSTs one webhook may have under way at once (all nodes): one slow receiver holds up
    # only its own events.
    webhook_concurrency: int = 8
    # Webhooks to loopback, private, link-local and cloud-metadata addresses (checked after
    # name resolution) are refused unless this is set (a receiver on the same host or network).
    webhook_allow_private: bool = False
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
    # Counted per charge point id, so reconnecting does not refill the bucket: each handshake
    # costs one, and a charger with none left gets HTTP 429 with Retry-After.
    charger_rate_per_s: float = 20.0
    charger_burst: int = 200
    # Connectors (1.6) or EVSEs (2.0.1) 1..max_connectors become ports on first use; a charger
    # naming another number that is not a port registered for it gets a CALLERROR, so it cannot
    # make us store (and cache) a port per number it invents.
    max_connectors: int = 8
    # The first period of a fail-safe TxProfile allows this current; the second (at expires) 0 A.
    tx_profile_limit_a: float = 80.0
    auto_register: bool = False
    # With auto_register, one of these two is required: a bootstrap secret a new charger sends as
    # its Basic-auth password (it is registered with that password), or an explicit opt-out
    # under which any new id is registered without one (logged as a warning).
    auto_register_secret: str | None = None
    auto_register_insecure: bool = False
    auto_register_operator: str = "default"
    # Most sockets (chargers and API clients alike) this node holds open at once; a socket beyond
    # it is closed at once. Lowered to fit the open-file limit (ulimit -n) if that is too low.
    max_connections: int = 25000
    # Most sockets open at once from one client address (an IPv6 /64), except from a proxy
    # uvicorn trusts (FORWARDED_ALLOW_IPS), which carries many clients on one address.
    connections_per_ip: int = 500
    # A request's headers (a charger's WebSocket upgrade included) must be complete this long
    # after the connection opens or the request starts, or the socket is closed.
    header_timeout_s: float = 10.0
    # An idle kept-alive HTTP connection is closed after this long. Longer than clients keep an
    # idle connection for reuse (httpx: 5 s), so that they drop it first: with equal timeouts a
    # request sent as the server closes the connection is lost with it (a POST is not retried).
    keep_alive_s: int = 20
    # Most chargers auto-registration may create (counted as the chargers of that operator): an
    # unknown id beyond it is refused and logged, so made-up ids cannot grow the table for ever.
    auto_register_max: int = 1000
    # Most ports and open transactions the dashboard lists (it says how many more there are).
    dashboard_max_rows: int = 500
    # Largest OCPP frame accepted from a charger, in bytes.
    ws_max_size: int = 65536
    # A client address whose charger handshakes failed this many times (unknown id, wrong
    # password, no OCPP subprotocol) within the window gets 429 before any password check.
    charger_handshake_failures: int = 20
    charger_handshake_failure_window_s: float = 60.0
    # Most charger handshakes one client address may have under way at once (beyond: 429).
    charger_handshakes_per_ip: int = 100
    # Most charger password checks (scrypt) running at once, on threads of their own: a reconnect
    # storm queues there, and nothing else (bad API keys) can queue ahead of it.
    charger_password_checks_at_once: int = 4
    # Most API requests per second (sustained) and at once, per API key, on each node.
    api_rate_per_s: float = 50.0
    api_burst: int = 100
    # An API key read from the database is taken as it was for this long on the node that read
    # it: a revocation (`chargegate apikey revoke`) reaches every node within it. 0: read the
    # key on every request.
    api_key_recheck_s: float = 1.0
    # A client address whose requests failed authentication this many times within the window
    # gets 429. Each check spends one of these before it runs (a key that matches gets it back),
    # so requests sent all at once cannot get more checks than that.
    api_auth_failures: int = 100
    api_auth_failure_window_s: float = 60.0
    # Most checks of API keys still stored with scrypt (from before the fast hash, each until its
    # first use) running at once, on threads of their own.
    api_key_checks_at_once: int = 1
    # Largest API request body, in bytes (beyond: 413).
    api_max_body_bytes: int = 65536
    # Largest body of POST /1.2/tokens:import, whose 10,000 rows need more than other requests.
    api_import_max_body_bytes: int = 4 * 1024 * 1024
    # OCPP security profile 2: serve HTTPS and wss:// with this certificate chain and key (PEM).
    tls_cert: str | None = None
    tls_key: str | None = None
    # OCPP security profile 3: client certificates signed by this CA (PEM) identify chargers,
    # whose id must be the certificate's subject CN. Optional unless required: API clients and
    # profile 1/2 chargers on the same port send none.
    tls_client_ca: str | None = None
    tls_client_cert_required: bool = False
    log_level: str = "warning"
    # A stop the charger accepted must be reported (StopTransaction / TransactionEvent Ended)
    # within this long, or it counts as not taken and is retried.
    stop_confirm_s: float = 60.0
    # A stop that did not take is tried again after this long, twice as long after each further
    # failure, up to stop_retry_max_s; it never gives up on its own.
    stop_retry_base_s: float = 30.0
    stop_retry_max_s: float = 900.0
    # After asking a 1.6 charger for its connector's status (TriggerMessage), how long its answer
    # may take before the stop is sent again anyway.
    reconcile_wait_s: float = 10.0

"""Prometheus metrics, served at /metrics. One process-wide registry: a process is one node."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from chargegate.call_metrics import CallMetrics

CONTENT_TYPE = CONTENT_TYPE_LATEST
# A `_created` timestamp beside every series doubles the output and no dashboard reads it.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream

CONNECTED_CHARGERS = Gauge(
    "chargegate_connected_chargers", "Chargers whose WebSocket this node holds"
)
OCPP_CALLS = CallMetrics(
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
)
REGISTRY.register(OCPP_CALLS)
API_LATENCY = Histogram(
    "chargegate_api_request_seconds",
    "API request handling time by route template, method and status code",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
QUEUE_OUTCOMES = Counter(
    "chargegate_queue_items_resolved_total",
    "Queue items resolved, by kind (start/stop), status (SUCCESS/FAILURE) and staging "
    "(true: sandbox outcomes an integrator chose, not charger trouble)",
    ["kind", "status", "staging"],
)
EXPIRY_DELAY = Histogram(
    "chargegate_expiry_stop_delay_seconds",
    "From a transaction's expires to its RemoteStop being answered by the charger",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)

STOP_FAILURES = Counter(
    "chargegate_stop_failures_total",
    "Stop attempts that did not take, by cause: refused by the charger, undelivered (no "
    "answer), or unreported (accepted, but the charger never reported the transaction ended)",
    ["cause"],
)
STOPS_RETRYING = Gauge(
    "chargegate_stops_retrying",
    "Open transactions with a stop that did not take and is being retried (all nodes)",
)
SCHEDULER_PASSES = Counter(
    "chargegate_scheduler_passes_total",
    "Scheduler passes: `idle` (nothing due, seen on a read) and `write` (something due, acted "
    "on in a write transaction)",
    ["kind"],
)
DISPATCHER_PASSES = Counter(
    "chargegate_dispatcher_passes_total",
    "Dispatcher passes: `idle` (nothing to claim, seen on a read), `claim` (commands to "
    "claim or leases to release, in a write transaction) and `taken` (commands written already "
    "claimed by this node, such as an expiry wave's stops, read to be sent)",
    ["kind"],
)

METER_READINGS_SKIPPED = Counter(
    "chargegate_meter_readings_skipped_total",
    "Energy readings from chargers not stored, by why: unparseable, non_finite (NaN, Infinity), "
    "multiplier (outside -9..9) or out_of_range (beyond a 32-bit meter column); the transaction "
    "opens or closes without them",
    ["why"],
)
GROUP_COMMIT_DEAD_LETTERS = Counter(
    "chargegate_group_commit_dead_letters_total",
    "Rows a group commit dropped because the database refuses them for good (not an outage), by "
    "what they were; a command answer dropped so is recorded as undelivered instead",
    ["what"],
)

SLOW_CHECKS = Counter(
    "chargegate_slow_checks_total",
    "scrypt checks run, by what they checked: charger_password, or api_key (only keys stored "
    "before the fast hash, each until its first use)",
    ["what"],
)

SOCKETS_DROPPED = Counter(
    "chargegate_sockets_dropped_total",
    "Sockets closed beneath the API and OCPP endpoint, by why: node_full "
    "(CHARGEGATE_MAX_CONNECTIONS), address_full (CHARGEGATE_CONNECTIONS_PER_IP) or "
    "header_timeout (request headers not complete within CHARGEGATE_HEADER_TIMEOUT_S)",
    ["why"],
)

WEBHOOK_ATTEMPTS = Counter(
    "chargegate_webhook_attempts_total",
    "Webhook POSTs by outcome: delivered; pending (failed, to be retried); failed (given up "
    "after the last attempt); discarded (answered after its webhook was removed, or after its "
    "lease ran out and another attempt took it over: the answer changes nothing)",
    ["outcome"],
)


def track_connections(count: Callable[[], int]) -> None:
    """The gauge reads the live count at scrape time, so it can never drift."""
    CONNECTED_CHARGERS.set_function(lambda: float(count()))


def exposition() -> bytes:
    return generate_latest()

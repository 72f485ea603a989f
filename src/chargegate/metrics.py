"""Prometheus metrics, served at /metrics. One process-wide registry: a process is one node."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST
# A `_created` timestamp beside every series doubles the output and no dashboard reads it.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream

CONNECTED_CHARGERS = Gauge(
    "chargegate_connected_chargers", "Chargers whose WebSocket this node holds"
)
OCPP_MESSAGES = Counter(
    "chargegate_ocpp_messages_total",
    "OCPP CALLs by action; direction 'in' from chargers, 'out' to chargers",
    ["action", "direction"],
)
OCPP_HANDLING = Histogram(
    "chargegate_ocpp_call_seconds",
    "Time to handle a charger's CALL (database work included), by action",
    ["action"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
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


def track_connections(count: Callable[[], int]) -> None:
    """The gauge reads the live count at scrape time, so it can never drift."""
    CONNECTED_CHARGERS.set_function(lambda: float(count()))


def exposition() -> bytes:
    return generate_latest()

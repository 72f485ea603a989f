"""Webhook rules without I/O: event names, the signature header, the retry schedule."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from enum import StrEnum

from chargegate.domain.times import backoff

SIGNATURE_HEADER = "X-Chargegate-Signature"
EVENT_HEADER = "X-Chargegate-Event"
# A receiver should refuse signatures older than this (replayed deliveries).
SIGNATURE_TOLERANCE = timedelta(minutes=5)
# Retries double from the base delay up to MAX_DELAY; after MAX_ATTEMPTS the delivery fails.
MAX_DELAY = timedelta(hours=1)
MAX_ATTEMPTS = 20


class EventType(StrEnum):
    QUEUE_ITEM_RESOLVED = "queue_item.resolved"
    TRANSACTION_OPENED = "transaction.opened"
    TRANSACTION_CLOSED = "transaction.closed"
    TRANSACTION_FAILED = "transaction.failed"
    PORT_STATUS_CHANGED = "port.status_changed"
    # A stop did not take (refused, undelivered, or never reported); it is being retried.
    TRANSACTION_STOP_FAILED = "transaction.stop_failed"
    # A charger's local list settled in another state (in_sync, failed, unsupported).
    LOCAL_LIST_CHANGED = "local_list.changed"
    # A reservation changed state (domain.states.ReservationState).
    RESERVATION_RESERVED = "reservation.reserved"
    RESERVATION_FAILED = "reservation.failed"
    RESERVATION_CANCELLED = "reservation.cancelled"
    RESERVATION_USED = "reservation.used"
    RESERVATION_EXPIRED = "reservation.expired"
    # A charger reported how a firmware update or a diagnostics upload goes (its status as it
    # words it).
    CHARGER_FIRMWARE_STATUS = "charger.firmware_status"
    CHARGER_DIAGNOSTICS_STATUS = "charger.diagnostics_status"
    # A site's balancer gave its open sessions new allocations (services.site_balancer).
    SITE_ALLOCATION = "site.allocation"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the timestamp is signed with
    the body, so a captured delivery cannot be replayed later under a new time."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def signature_valid(secret: str, header: str, body: bytes, now: int) -> bool:
    """What a receiver does with the header (documented in the README; used by the tests)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > SIGNATURE_TOLERANCE.total_seconds():
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def retry_delay(attempts: int, base: timedelta) -> timedelta:
    return backoff(attempts, base, MAX_DELAY)


def outcome(attempt: int, delivered: bool) -> DeliveryStatus:
    """Where attempt number `attempt` (from 1) leaves its delivery."""
    if delivered:
        return DeliveryStatus.DELIVERED
    return DeliveryStatus.FAILED if attempt >= MAX_ATTEMPTS else DeliveryStatus.PENDING

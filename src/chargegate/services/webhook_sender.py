"""Sending webhook deliveries: signed POSTs, in order per transaction, each webhook apart."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from chargegate.bus import Topic
from chargegate.domain.times import utcnow
from chargegate.domain.webhook_targets import parse_target
from chargegate.domain.webhooks import (
    EVENT_HEADER,
    SIGNATURE_HEADER,
    DeliveryStatus,
    EventType,
    outcome,
    retry_delay,
    signature,
)
from chargegate.metrics import WEBHOOK_ATTEMPTS
from chargegate.services.runtime import Runtime
from chargegate.services.webhook_http import WebhookClient
from chargegate.services.webhooks import carried_events
from chargegate.store import webhooks as webhook_store

log = logging.getLogger(__name__)

# POSTs one node has under way at once, over all webhooks.
MAX_IN_FLIGHT = 256


@dataclass(frozen=True, slots=True)
class _Claim:
    delivery_id: int
    # The delivery's attempt number this claim made: its answer is recorded only if the
    # delivery is still at this attempt (see webhook_store.settle).
    attempt: int
    event_type: EventType
    body: str
    url: str
    secret: str


class WebhookSender:
    """POSTs due deliveries, each in a task of its own: a webhook that answers slowly, or not
    at all, holds up its own deliveries (at most `webhook_concurrency` at once) and no one
    else's. Each webhook's events for one transaction (or port) go one at a time, in the order
    they happened, each retried with backoff until delivered or MAX_ATTEMPTS."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        settings = rt.settings
        self._client = WebhookClient(
            settings.webhook_timeout_s, settings.webhook_allow_private, MAX_IN_FLIGHT
        )
        self._sending: set[asyncio.Task[None]] = set()
        self._answered: list[tuple[_Claim, str | None]] = []

    def _committed(self, session: Session) -> None:
        if carried_events(session):
            self._rt.bus.wake(Topic.WEBHOOKS)

    async def run(self) -> None:
        # Events are recorded deep inside other flows' transactions; a commit that carried
        # some wakes the sender at once instead of at its next poll.
        event.listen(Session, "after_commit", self._committed)
        try:
            while True:
                try:
                    idle = await self.step()
                except Exception:
                    log.exception("webhook pass failed; retrying")
                    idle = self._rt.settings.poll_interval_s
                await self._rt.bus.wait(Topic.WEBHOOKS, idle)
        finally:
            event.remove(Session, "after_commit", self._committed)
            # Cut off mid-POST: their leases run out and they are sent again (at least once).
            for task in self._sending:
                task.cancel()
            await asyncio.gather(*self._sending, return_exceptions=True)
            await self._client.aclose()

    async def step(self) -> float:
        """Record the answers that came in and start the deliveries now due; returns how long
        until the next retry is due (a POST that ends wakes the sender sooner)."""
        answered, self._answered = self._answered, []
        settings = self._rt.settings
        lease = timedelta(seconds=settings.webhook_timeout_s * 3)
        now = utcnow()
        try:
            async with self._rt.sessions() as session, session.begin():
                outcomes = [
                    await self._settle(session, claim, error, now) for claim, error in answered
                ]
                rows = await webhook_store.claim_due(
                    session,
                    now,
                    lease,
                    MAX_IN_FLIGHT - len(self._sending),
                    settings.webhook_concurrency,
                )
                claims = [
                    _Claim(d.id, d.attempts, d.event_type, d.body, w.url, w.secret) for d, w in rows
                ]
                next_at = await webhook_store.next_attempt(session, now)
        except Exception:
            # Recorded next time; until then their leases keep them from being sent again.
            self._answered[:0] = answered
            raise
        for (claim, error), settled in zip(answered, outcomes, strict=True):
            self._report(claim, error, settled)
        for claim in claims:
            task = asyncio.create_task(self._send(claim), name=f"webhook-{claim.delivery_id}")
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        if next_at is None:
            return settings.poll_interval_s
        return min(settings.poll_interval_s, max(0.0, (next_at - utcnow()).total_seconds()))

    async def _send(self, claim: _Claim) -> None:
        error = await self._attempt(claim)
        self._answered.append((claim, error))
        # Its answer may let the next event in line go, or free a slot of its webhook.
        self._rt.bus.wake_here(Topic.WEBHOOKS)

    async def _attempt(self, claim: _Claim) -> str | None:
        """None when delivered; otherwise what went wrong. Every error, whatever its type (a URL
        the HTTP client cannot even parse included), is this delivery's alone: raised, it would
        end the round for every other delivery in it, and the next round would meet it again."""
        raw = claim.body.encode()
        headers = [
            ("Content-Type", "application/json"),
            ("User-Agent", "chargegate-webhooks"),
            (EVENT_HEADER, claim.event_type),
            (SIGNATURE_HEADER, signature(claim.secret, int(time.time()), raw)),
        ]
        try:
            status = await self._client.post(parse_target(claim.url), headers, raw)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= status < 300:
            return None
        return f"HTTP {status}"

    async def _settle(
        self, session: AsyncSession, claim: _Claim, error: str | None, now: datetime
    ) -> DeliveryStatus | None:
        """Where the answer left the delivery; None when it changed nothing."""
        status = outcome(claim.attempt, error is None)
        base = timedelta(seconds=self._rt.settings.webhook_retry_base_s)
        settled = await webhook_store.settle(
            session,
            claim.delivery_id,
            claim.attempt,
            status,
            error,
            now,
            now + retry_delay(claim.attempt, base),
        )
        return status if settled else None

    def _report(self, claim: _Claim, error: str | None, settled: DeliveryStatus | None) -> None:
        """Once committed (a step that failed records its answers again next time)."""
        WEBHOOK_ATTEMPTS.labels("discarded" if settled is None else settled.value).inc()
        if settled is DeliveryStatus.FAILED:
            log.warning(
                "webhook delivery given up",
                extra={"delivery_id": claim.delivery_id, "attempts": claim.attempt, "error": error},
            )

"""An operator's webhooks, as the API and the CLI (provisioning.py) add, list and remove them.
Where a webhook may point is checked as every delivery checks it (services.webhook_targets)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chargegate.domain.cursors import RowMark
from chargegate.domain.errors import InvalidArgument, NotFound
from chargegate.domain.fleet import WebhooksRequest
from chargegate.domain.times import utcnow
from chargegate.domain.webhook_targets import BadTarget
from chargegate.services import webhook_targets
from chargegate.services import webhooks as webhook_service
from chargegate.services.listing import Listing, by_row_id, open_listing
from chargegate.services.runtime import Runtime
from chargegate.store import webhooks as webhook_store
from chargegate.store.database import AsyncSession
from chargegate.store.models import Webhook


class InvalidWebhookUrl(InvalidArgument, ValueError):
    pass


@dataclass(frozen=True, slots=True)
class WebhookView:
    id: int
    url: str
    created: datetime
    # Only in the answer that added it: it signs every delivery (X-Chargegate-Signature).
    secret: str | None = field(default=None)


def _view(webhook: Webhook) -> WebhookView:
    return WebhookView(webhook.id, webhook.url, webhook.created_at)


async def vet(url: str, allow_private: bool) -> None:
    """InvalidWebhookUrl for a URL no delivery could go to (before anything is stored: it may
    resolve a name)."""
    try:
        await webhook_targets.vet(url, allow_private)
    except (BadTarget, webhook_targets.TargetRefused) as exc:
        raise InvalidWebhookUrl(str(exc)) from None


async def register(session: AsyncSession, operator_id: int, url: str) -> WebhookView:
    """A vetted URL, stored with a new signing secret (shown in the view, once)."""
    webhook = await webhook_store.add_webhook(
        session, operator_id, url, webhook_service.new_secret(), utcnow()
    )
    return WebhookView(webhook.id, webhook.url, webhook.created_at, webhook.secret)


async def add(rt: Runtime, operator_id: int, url: str) -> WebhookView:
    await vet(url, rt.settings.webhook_allow_private)
    async with rt.sessions() as session, session.begin():
        return await register(session, operator_id, url)


async def list_webhooks(
    rt: Runtime, operator_id: int, request: WebhooksRequest
) -> Listing[Webhook, WebhookView, RowMark]:
    keyset = by_row_id(
        webhook_store.listed,
        webhook_store.page_end,
        operator_id,
        lambda webhook: webhook.id,
        request.after,
        request.limit,
    )
    async with rt.reads() as session:
        return await open_listing(rt, session, keyset, _view)


async def remove(rt: Runtime, operator_id: int, webhook_id: int) -> None:
    """Stop the webhook; what it was still to be sent is dropped."""
    async with rt.sessions() as session, session.begin():
        if not await webhook_store.remove_webhook(session, webhook_id, utcnow(), operator_id):
            raise NotFound(f"No webhook {webhook_id} for this API key")

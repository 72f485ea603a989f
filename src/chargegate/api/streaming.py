"""JSON arrays streamed batch by batch (see services.listing), with the next page's cursor."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from starlette.responses import StreamingResponse

from chargegate.services.listing import Listing

View = TypeVar("View")

# A full page names the next one here (pass it back as `cursor`).
NEXT_CURSOR = "X-Next-Cursor"


def json_array(
    listing: Listing[Any, View, Any], body: Callable[[View], dict[str, Any]]
) -> StreamingResponse:
    headers = {} if listing.next_page is None else {NEXT_CURSOR: listing.next_page.encode()}
    return StreamingResponse(_chunks(listing, body), media_type="application/json", headers=headers)


async def _chunks(
    listing: Listing[Any, View, Any], body: Callable[[View], dict[str, Any]]
) -> AsyncIterator[str]:
    opening = "["
    async for batch in listing.batches():
        # As FastAPI writes JSON answers: compact, UTF-8.
        items = (
            json.dumps(body(view), ensure_ascii=False, separators=(",", ":")) for view in batch
        )
        yield opening + ",".join(items)
        opening = ","
    yield "[]" if opening == "[" else "]"

"""JSON arrays streamed batch by batch (see services.listing), with the next page's cursor."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.responses import StreamingResponse

from chargegate.services.listing import Listing, M, Row

# A full page names the next one here (pass it back as `cursor`).
NEXT_CURSOR = "X-Next-Cursor"


def json_array(
    listing: Listing[Row, M], body: Callable[[Row], dict[str, Any]]
) -> StreamingResponse:
    headers = {} if listing.next_page is None else {NEXT_CURSOR: listing.next_page.encode()}
    return StreamingResponse(_chunks(listing, body), media_type="application/json", headers=headers)


async def _chunks(
    listing: Listing[Row, M], body: Callable[[Row], dict[str, Any]]
) -> AsyncIterator[str]:
    opening = "["
    async for batch in listing.batches():
        # As FastAPI writes JSON answers: compact, UTF-8.
        items = (json.dumps(body(row), ensure_ascii=False, separators=(",", ":")) for row in batch)
        yield opening + ",".join(items)
        opening = ","
    yield "[]" if opening == "[" else "]"

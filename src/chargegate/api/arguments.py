"""Reading request arguments: JSON bodies (also on GET, as the seed does) and query strings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request

from chargegate.domain.errors import InvalidArgument
from chargegate.domain.validation import merge_query, require_object
from chargegate.services.runtime import Runtime


async def json_body(request: Request) -> Mapping[str, object]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
        # A lone surrogate (a legal JSON escape such as \ud800) is not text we can store or echo.
        json.dumps(parsed, ensure_ascii=False).encode()
    except (ValueError, RecursionError):
        raise InvalidArgument("The request body is not valid JSON") from None
    except UnicodeEncodeError:
        raise InvalidArgument(
            "The request body holds invalid Unicode (an unpaired surrogate escape)"
        ) from None
    return require_object(parsed)


async def get_arguments(request: Request) -> dict[str, object]:
    return merge_query(await json_body(request), request.query_params)


def runtime(request: Request) -> Runtime:
    """The node's runtime, for routes to take as a dependency (FastAPI Depends)."""
    rt: Runtime = request.app.state.runtime
    return rt


# A route's parameter for the node's runtime.
Rt = Annotated[Runtime, Depends(runtime)]

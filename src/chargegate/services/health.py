"""Is this node fit to serve?"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from chargegate.services.runtime import Runtime


async def problem(rt: Runtime) -> str | None:
    """None when ready, else what is wrong and what to check."""
    if rt.node.draining:
        return "this node is shutting down; its chargers are reconnecting to other nodes"
    try:
        async with rt.sessions() as session:
            await session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        return f"database unreachable ({type(exc).__name__}); check CHARGEGATE_DATABASE_URL"
    return None

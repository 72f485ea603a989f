"""Idempotency-Key records: a key is claimed before its request runs and completed with the
request's answer, so that a retry is answered from the record instead of running again."""

from __future__ import annotations

from dataclasses import dataclass

from chargegate.domain.times import utcnow
from chargegate.services.runtime import Runtime
from chargegate.store import idempotency as idempotency_store


@dataclass(frozen=True, slots=True)
class Earlier:
    """The request that took a key first: its fingerprint, and its answer once it has one."""

    fingerprint: str
    status_code: int | None
    response_body: str | None


async def claim(rt: Runtime, operator_id: int, key: str, fingerprint: str) -> Earlier | None:
    """None when the key is this request's now (run it); else the request that holds it."""
    async with rt.sessions() as session, session.begin():
        claimed = await idempotency_store.claim(session, operator_id, key, fingerprint, utcnow())
        if claimed is not None:
            return None
        record = await idempotency_store.find(session, operator_id, key)
        if record is None:
            # Taken and released again in between: this request did not get it either, and
            # its caller is told to retry as for one still running.
            return Earlier(fingerprint, None, None)
        return Earlier(record.fingerprint, record.status_code, record.response_body)


async def complete(
    rt: Runtime, operator_id: int, key: str, status_code: int, response_body: str | None
) -> None:
    async with rt.sessions() as session, session.begin():
        stored = await idempotency_store.find(session, operator_id, key)
        if stored is not None:
            stored.status_code = status_code
            stored.response_body = response_body


async def release(rt: Runtime, operator_id: int, key: str) -> None:
    """Forget the key: the request failed and changed nothing, so a retry may run it again."""
    async with rt.sessions() as session, session.begin():
        record = await idempotency_store.find(session, operator_id, key)
        if record is not None:
            await session.delete(record)

"""Transactions and the queue items that report on them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from chargegate.domain.cursors import PageMark
from chargegate.domain.id_tags import fold
from chargegate.domain.states import (
    TransactionOrigin,
    TransactionState,
)
from chargegate.domain.tokens import Verdict
from chargegate.domain.validation import ListRequest
from chargegate.store.chunks import CHUNK, chunks, lock_rows
from chargegate.store.models import Charger, Port, Transaction

_ACTIVE = (TransactionState.PENDING, TransactionState.OPEN)

# A session the API shows: started through the API, or begun at a charger with a token it was
# told is Accepted. A start the registry refused (or not answered yet, or with no token, as a
# 2.0.1 station's cable-first transaction) is only a record: its stop must still find it, but
# it is nobody's session.
SESSION = or_(
    Transaction.origin == TransactionOrigin.API, Transaction.start_verdict == Verdict.ACCEPTED
)


def is_session(transaction: Transaction) -> bool:
    """SESSION, of a row in hand."""
    return (
        transaction.origin == TransactionOrigin.API or transaction.start_verdict == Verdict.ACCEPTED
    )


async def operator_transaction(
    session: AsyncSession,
    operator_id: int,
    transaction_uuid: str,
    staging: bool,
    *,
    for_update: bool = False,
) -> Transaction | None:
    query = select(Transaction).where(
        Transaction.transaction_uuid == transaction_uuid,
        Transaction.operator_id == operator_id,
        Transaction.staging == staging,
        SESSION,
    )
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


def _port_query(operator_id: int, request: ListRequest, *columns: Any) -> Select[Any]:
    """The port's (or token's) sessions that `request`'s filters ask for, newest first."""
    query = (
        select(*columns)
        .where(
            Transaction.operator_id == operator_id,
            Transaction.staging == request.staging,
            SESSION,
        )
        .order_by(Transaction.created_at.desc(), Transaction.id.desc())
    )
    if request.port_uuid is not None:
        query = query.where(Transaction.port_uuid == request.port_uuid)
    if request.id_tag is not None:
        query = query.where(func.upper(Transaction.id_tag) == fold(request.id_tag))
    if request.since is not None:
        query = query.where(Transaction.created_at >= request.since)
    if request.until is not None:
        query = query.where(Transaction.created_at < request.until)
    if request.state is not None:
        query = query.where(Transaction.state == request.state)
    return query


def _older_than(mark: PageMark) -> ColumnElement[bool]:
    return or_(
        Transaction.created_at < mark.created_at,
        and_(Transaction.created_at == mark.created_at, Transaction.id < mark.transaction_id),
    )


async def page_end(
    session: AsyncSession, operator_id: int, request: ListRequest
) -> PageMark | None:
    """The last transaction of a full page (the `limit`-th), None if the page is not full."""
    assert request.limit > 0
    query = _port_query(operator_id, request, Transaction.created_at, Transaction.id)
    if request.after is not None:
        query = query.where(_older_than(request.after))
    row = (await session.execute(query.offset(request.limit - 1).limit(1))).first()
    return None if row is None else PageMark(row.created_at, row.id)


async def port_transactions(
    session: AsyncSession,
    operator_id: int,
    request: ListRequest,
    after: PageMark | None,
    through: PageMark | None,
    size: int,
) -> Sequence[Transaction]:
    """Up to `size` of the transactions `request`'s filters ask for, newest first, older than
    `after` and not older than `through` (where a page ends). Keyset pagination on (created_at, id):
    pages never skip or repeat."""
    query = _port_query(operator_id, request, Transaction).limit(size)
    if after is not None:
        query = query.where(_older_than(after))
    if through is not None:
        query = query.where(~_older_than(through))
    return (await session.scalars(query)).all()


async def active_on_port(
    session: AsyncSession, port_uuid: str, staging: bool
) -> Transaction | None:
    """A session that occupies the port. A 2.0.1 station's transaction opened by plugging in,
    with nobody authorised yet, does not: it is waiting for exactly such a start. Nor does a
    start the registry refused: it is nobody's session, and the charger ends it."""
    return await session.scalar(
        select(Transaction)
        .where(
            Transaction.port_uuid == port_uuid,
            Transaction.staging == staging,
            Transaction.state.in_(_ACTIVE),
            SESSION,
        )
        .limit(1)
    )


async def live_start_with_tag(
    session: AsyncSession, charger_id: int, id_tag: str, staging: bool
) -> Transaction | None:
    """A live API session on this charger started with this token (in any letter case): the
    charger's report of a start is matched to ours by its token, so no two may share one."""
    return await session.scalar(
        select(Transaction)
        .join(Port, Transaction.port_uuid == Port.port_uuid)
        .where(
            Port.charger_id == charger_id,
            Transaction.staging == staging,
            Transaction.origin == TransactionOrigin.API,
            Transaction.state.in_(_ACTIVE),
            func.upper(Transaction.id_tag) == fold(id_tag),
        )
        .limit(1)
    )


def _reported(*columns: Any) -> Select[Any]:
    """`columns` of the transactions a charger's report can name: its ports' non-staging ones.
    A station may reuse its own transaction ids over time, so of several the newest is meant."""
    return (
        select(*columns)
        .join_from(Transaction, Port, Transaction.port_uuid == Port.port_uuid)
        .where(Transaction.staging.is_(False))
    )


def newest_on_charger(charger_id: int | ColumnElement[int], *conditions: Any) -> Select[Any]:
    """The transaction of a charger that meets `conditions` and that its report names."""
    return (
        _reported(Transaction)
        .where(Port.charger_id == charger_id, *conditions)
        .order_by(Transaction.id.desc())
        .limit(1)
    )


def _on_charger(charger_id: int, *conditions: Any) -> Select[Transaction]:
    # A charger's report and an API request about the same transaction take turns.
    return newest_on_charger(charger_id, *conditions).with_for_update(of=Transaction)


async def charger_transaction_by_tag(
    session: AsyncSession,
    charger_id: int,
    id_tag: str,
    origin: TransactionOrigin,
    connector_id: int | None = None,
) -> Transaction | None:
    """The newest transaction on this charger (on its connector `connector_id`, if given) that
    carries `id_tag`."""
    conditions = [Transaction.id_tag == id_tag, Transaction.origin == origin]
    if connector_id is not None:
        conditions.append(Port.connector_id == connector_id)
    return await session.scalar(_on_charger(charger_id, *conditions))


async def charger_transaction_by_id(
    session: AsyncSession, charger_id: int, reference: int | str
) -> Transaction | None:
    """By our id (OCPP 1.6 transactionId, 2.0.1 remoteStartId) or the 2.0.1 charger's id."""
    if isinstance(reference, str):
        return await session.scalar(
            _on_charger(charger_id, Transaction.charger_transaction_id == reference)
        )
    return await session.scalar(_on_charger(charger_id, Transaction.id == reference))


async def charger_transactions_by_ids(
    session: AsyncSession, wanted: Collection[tuple[int, int | str]]
) -> dict[tuple[int, int | str], Transaction]:
    """charger_transaction_by_id of many (charger row id, reference) pairs, a few statements for
    all; a pair that names none is left out. Locked in id order, and the newest wins, as there."""
    found: dict[tuple[int, int | str], Transaction] = {}
    # A charger and a reference per pair: CHUNK parameters at most.
    for chunk in chunks(list(set(wanted)), CHUNK // 2):
        pairs = set(chunk)
        chargers = {charger_id for charger_id, _ in pairs}
        ours = [reference for _, reference in pairs if isinstance(reference, int)]
        theirs = [reference for _, reference in pairs if isinstance(reference, str)]
        for column, references in (
            (Transaction.id, ours),
            (Transaction.charger_transaction_id, theirs),
        ):
            if not references:
                continue
            # Ascending, so that of several the newest is the one left in `found`.
            rows = await session.execute(
                _reported(Port.charger_id, column, Transaction)
                .where(Port.charger_id.in_(chargers), column.in_(references))
                .order_by(Transaction.id)
                .with_for_update(of=Transaction)
            )
            for charger_id, reference, transaction in rows:
                key = (charger_id, reference)
                if reference is not None and key in pairs:
                    found[(charger_id, reference)] = transaction
    return found


async def open_charger_transactions(session: AsyncSession, port_uuid: str) -> Sequence[Transaction]:
    """The open transactions begun at the charger (not through the API) on a port."""
    return (
        await session.scalars(
            select(Transaction)
            .where(
                Transaction.port_uuid == port_uuid,
                Transaction.staging.is_(False),
                Transaction.state == TransactionState.OPEN,
                Transaction.origin == TransactionOrigin.CHARGER,
            )
            .with_for_update()
        )
    ).all()


async def open_on_port(session: AsyncSession, port_uuid: str) -> Transaction | None:
    return await session.scalar(
        select(Transaction)
        .where(
            Transaction.port_uuid == port_uuid,
            Transaction.staging.is_(False),
            Transaction.state == TransactionState.OPEN,
        )
        .order_by(Transaction.id.desc())
        .limit(1)
    )


async def locked(session: AsyncSession, transaction_id: int) -> Transaction | None:
    """A transaction by our id, locked against a charger's report about it meanwhile."""
    return await session.scalar(
        select(Transaction).where(Transaction.id == transaction_id).with_for_update()
    )


async def lock_in_order(session: AsyncSession, transaction_ids: Iterable[int]) -> None:
    """Locks these transactions, in the order of their ids.

    The order of locks in every write about a transaction: the transaction first, then its
    queue items, then its commands (a charger's report, a PATCH and the scheduler all begin
    with the transaction). A write that touches several transactions takes them in id order,
    before anything else; one that took a command before its transaction would deadlock with a
    charger's report about that transaction."""
    await lock_rows(session, Transaction.id, transaction_ids)


async def transaction_charger(session: AsyncSession, transaction: Transaction) -> Charger:
    charger = await session.scalar(
        select(Charger)
        .join(Port, Port.charger_id == Charger.id)
        .where(Port.port_uuid == transaction.port_uuid)
    )
    if charger is None:
        raise LookupError(f"transaction {transaction.transaction_uuid} has no charger")
    return charger


async def holding_profiles(session: AsyncSession, charger_id: int) -> Sequence[Transaction]:
    """A charger's open transactions whose start's TxProfile it holds (profile_until set)."""
    return (
        await session.scalars(
            select(Transaction)
            .join(Port, Port.port_uuid == Transaction.port_uuid)
            .where(
                Port.charger_id == charger_id,
                Transaction.state == TransactionState.OPEN,
                Transaction.profile_until.is_not(None),
            )
        )
    ).all()

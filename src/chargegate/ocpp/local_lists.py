"""A local-list sync at the charger, the same in both OCPP versions: ask the list's version,
then send what the plan says for that version, message by message, stopping at the first one
the charger does not accept. Each version words the messages (ocpp/v16/local_list.py,
ocpp/v201/local_list.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ocpp.exceptions import NotImplementedError, NotSupportedError
from ocpp.v16.enums import Action

from chargegate.domain.local_lists import ListAnswer, Message, Outcome, Plan
from chargegate.ocpp.common import rejected
from chargegate.ocpp.rpc import CallFailed, Payload
from chargegate.services.commands import Reply

# The CALLERRORs of a charger that does not have the message at all.
_MISSING = (NotSupportedError.code, NotImplementedError.code)

Call = Callable[[str, Payload], Awaitable[Payload]]


@dataclass(frozen=True, slots=True)
class Wording:
    """How one OCPP version reads a GetLocalListVersion answer and words a SendLocalList."""

    version_of: Callable[[Payload], int]
    message: Callable[[Message], Payload]


def version_reply(action: str, version: int) -> Reply:
    """The answer to GetLocalListVersion: 1.6 says -1 for a charger without a list."""
    outcome = Outcome(charger_version=version)
    if version < 0:
        detail = f"The charger has no local authorization list ({action}: {version})"
        return Reply(accepted=False, detail=detail, local_list=outcome)
    return Reply(accepted=True, detail=f"{action}: {version}", local_list=outcome)


async def sync(call: Call, wording: Wording, plan: Plan, opening: tuple[str, Payload]) -> Reply:
    action, payload = opening
    try:
        charger_version = wording.version_of(await call(action, payload))
    except CallFailed as exc:
        # TC_042_1: a charger without a list may refuse the question (NotSupported).
        return _refused(None, (), ListAnswer.NOT_SUPPORTED, f"{action}: {exc}")
    if charger_version < 0:
        return _refused(charger_version, (), ListAnswer.NOT_SUPPORTED, f"{action}: -1")
    sent: list[Message] = []
    for message in plan.messages(charger_version):
        try:
            result = await call(Action.send_local_list, wording.message(message))
        except CallFailed as exc:
            # A charger without the feature may refuse the message itself (TC_043_1); any
            # other error is a failure like Failed.
            answer = ListAnswer.NOT_SUPPORTED if exc.code in _MISSING else ListAnswer.FAILED
            return _refused(charger_version, sent, answer, f"{Action.send_local_list}: {exc}")
        answer = ListAnswer(result["status"])
        if answer is not ListAnswer.ACCEPTED:
            return _refused(charger_version, sent, answer, rejected(Action.send_local_list, answer))
        sent.append(message)
    outcome = Outcome(charger_version, tuple(sent), ListAnswer.ACCEPTED)
    return Reply(accepted=True, detail=_summary(charger_version, sent), local_list=outcome)


def _refused(
    charger_version: int | None, sent: Sequence[Message], answer: ListAnswer, detail: str
) -> Reply:
    outcome = Outcome(charger_version, tuple(sent), answer)
    if answer is ListAnswer.NOT_SUPPORTED:
        detail = f"The charger has no local authorization list ({detail})"
    return Reply(accepted=False, detail=detail, local_list=outcome)


def _summary(charger_version: int, sent: list[Message]) -> str:
    if not sent:
        return f"Local list in sync at version {charger_version}: nothing to send"
    entries = sum(len(message.entries) for message in sent)
    kind = "Full" if sent[0].full else "Differential"
    return (
        f"SendLocalList: version {sent[-1].version} ({kind}, {entries} entries in "
        f"{len(sent)} message{'s' if len(sent) > 1 else ''})"
    )

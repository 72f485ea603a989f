"""A local-list sync at the charger, the same in both OCPP versions: ask the list's version,
then send what the plan says for that version, message by message, stopping at the first one
the charger does not accept. Each version words the messages (ocpp/v16/local_list.py,
ocpp/v201/local_list.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ocpp.exceptions import NotImplementedError, NotSupportedError
from ocpp.v16.enums import Action

from chargegate.domain.local_lists import ListAnswer, Message, Outcome, Plan
from chargegate.ocpp.common import rejected
from chargegate.ocpp.rpc import CallFailed, Payload
from chargegate.services.commands import Reply

# The CALLERRORs of a charger that does not have the message at all.
MISSING = (NotSupportedError.code, NotImplementedError.code)

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
    charger_version: int | None
    try:
        charger_version = wording.version_of(await call(action, payload))
    except CallFailed:
        # A charger without a list may refuse the question (OCTT TC_042_1) as it may say -1:
        # the full list then asks it plainly, and its answer decides (TC_043_1).
        charger_version = None
    sent: list[Message] = []
    for message in plan.messages(charger_version):
        try:
            result = await call(Action.send_local_list, wording.message(message))
        except CallFailed as exc:
            # A charger without the feature may refuse the message itself (TC_043_1); any
            # other error is a failure like Failed.
            missing = exc.code in MISSING
            answer = ListAnswer.NOT_SUPPORTED if missing else ListAnswer.FAILED
            said = f"The charger answered {Action.send_local_list} with an error ({exc})"
            return _refused(Outcome(charger_version, tuple(sent), answer), said)
        answer = ListAnswer(result["status"])
        if answer is not ListAnswer.ACCEPTED:
            said = rejected(Action.send_local_list, answer)
            return _refused(Outcome(charger_version, tuple(sent), answer), said)
        sent.append(message)
    outcome = Outcome(charger_version, tuple(sent), ListAnswer.ACCEPTED)
    return Reply(accepted=True, detail=_summary(charger_version, sent), local_list=outcome)


def _refused(outcome: Outcome, said: str) -> Reply:
    if outcome.answer is ListAnswer.NOT_SUPPORTED:
        said = f"The charger has no local authorization list: {said}"
    return Reply(accepted=False, detail=said, local_list=outcome)


def _summary(charger_version: int | None, sent: list[Message]) -> str:
    if not sent:
        return f"Local list in sync at version {charger_version}: nothing to send"
    entries = sum(len(message.entries) for message in sent)
    kind = "Full" if sent[0].full else "Differential"
    return (
        f"SendLocalList: version {sent[-1].version} ({kind}, {entries} entries in "
        f"{len(sent)} message{'s' if len(sent) > 1 else ''})"
    )

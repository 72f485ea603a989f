"""A token's authorization as 1.6 idTagInfo."""

from __future__ import annotations

from typing import assert_never

from ocpp.v16.enums import AuthorizationStatus

from chargegate.domain.times import format_ocpp
from chargegate.domain.tokens import ID_TAG_16_MAX, Authorization, Verdict
from chargegate.ocpp.rpc import Payload


def _status(verdict: Verdict) -> AuthorizationStatus:
    match verdict:
        case Verdict.ACCEPTED:
            return AuthorizationStatus.accepted
        case Verdict.BLOCKED:
            return AuthorizationStatus.blocked
        case Verdict.EXPIRED:
            return AuthorizationStatus.expired
        case Verdict.INVALID:
            return AuthorizationStatus.invalid
        case Verdict.CONCURRENT_TX:
            return AuthorizationStatus.concurrent_tx
        case _:
            assert_never(verdict)


def id_tag_info(authorization: Authorization) -> Payload:
    info: Payload = {"status": _status(authorization.verdict)}
    if authorization.expires_at is not None:
        info["expiryDate"] = format_ocpp(authorization.expires_at)
    # A 2.0.1 group token may be longer than a 1.6 idTag can be: 1.6 chargers are not told it.
    parent = authorization.parent_id_tag
    if parent is not None and len(parent) <= ID_TAG_16_MAX:
        info["parentIdTag"] = parent
    return info

"""A token's authorization as 2.0.1 idTokenInfo."""

from __future__ import annotations

from typing import assert_never

from ocpp.v201.enums import AuthorizationStatusEnumType, IdTokenEnumType

from chargegate.domain.times import format_ocpp
from chargegate.domain.tokens import Authorization, Verdict
from chargegate.ocpp.rpc import Payload


def _status(verdict: Verdict) -> AuthorizationStatusEnumType:
    match verdict:
        case Verdict.ACCEPTED:
            return AuthorizationStatusEnumType.accepted
        case Verdict.BLOCKED:
            return AuthorizationStatusEnumType.blocked
        case Verdict.EXPIRED:
            return AuthorizationStatusEnumType.expired
        case Verdict.INVALID:
            return AuthorizationStatusEnumType.invalid
        case Verdict.CONCURRENT_TX:
            return AuthorizationStatusEnumType.concurrent_tx
        case _:
            assert_never(verdict)


def id_token_info(authorization: Authorization) -> Payload:
    info: Payload = {"status": _status(authorization.verdict)}
    if authorization.expires_at is not None:
        info["cacheExpiryDateTime"] = format_ocpp(authorization.expires_at)
    if authorization.parent_id_tag is not None:
        # A group that is not a registered token of its own is one the CSMS assigned.
        registered = authorization.parent_type
        kind = IdTokenEnumType.central if registered is None else IdTokenEnumType(registered)
        info["groupIdToken"] = {"idToken": authorization.parent_id_tag, "type": kind}
    return {"idTokenInfo": info}

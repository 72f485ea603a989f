"""The verified TLS client certificate of a charger's connection (OCPP security profile 3).

uvicorn puts nothing of the TLS session into the ASGI scope, so the listener (which holds the
socket) adds the subject's common names under SCOPE_KEY, and the endpoint reads them there.
"""

from __future__ import annotations

import ssl
from typing import Any

# In scope["extensions"]: {"common_names": [...]}; absent when no certificate was presented.
SCOPE_KEY = "chargegate.client_certificate"


def common_names(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> list[str] | None:
    """The subject CNs of the peer's certificate, or None when it sent none. The TLS layer has
    verified the certificate against the configured CA before we ever see it (getpeercert()
    returns a parsed certificate only when it was verified)."""
    if ssl_object is None:
        return None
    certificate: dict[str, Any] | None = ssl_object.getpeercert()
    if not certificate:
        return None
    return [
        value
        for rdn in certificate.get("subject", ())
        for name, value in rdn
        if name == "commonName"
    ]


def scope_common_names(extensions: dict[str, Any] | None) -> list[str] | None:
    """What `common_names` found for this connection, from the scope's extensions."""
    found = (extensions or {}).get(SCOPE_KEY)
    if found is None:
        return None
    names: list[str] = found["common_names"]
    return names

"""Which clients count as one for the limits per client address.

Every such limit (sockets open, failed and concurrent charger handshakes, requests with bad API
keys) keys on `client_key`, so that they agree on who one client is. The address it is given is
the one the server resolved: behind a proxy uvicorn trusts (`FORWARDED_ALLOW_IPS`), the client's
address from the proxy's `X-Forwarded-For`; otherwise the socket's peer.
"""

from __future__ import annotations

import ipaddress

# A client whose address the server does not know (no peer address in the ASGI scope).
UNKNOWN = "unknown"

# A trusted proxy may forward something that is no address (nginx's `unknown`, an obfuscated
# identifier): it is a key of its own, cut short so that a long one cannot pin much memory.
OTHER_MAX = 64


def client_host(client: tuple[str, int] | None) -> str:
    """The client's address as logged: the address itself, where client_key may be its /64."""
    return UNKNOWN if client is None else client[0]


def client_key(client: tuple[str, int] | None) -> str:
    """The key a client's limits are counted under, from its (host, port).

    An IPv6 host usually has a whole /64 to itself and can take a fresh address in it for every
    try, so all of a /64 is one client. An IPv4 address carried in IPv6 (`::ffff:a.b.c.d`, what
    a dual-stack socket reports) is that IPv4 address."""
    host = client_host(client)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:OTHER_MAX]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)

"""Bounds on the sockets this node serves, beneath the ASGI app.

uvicorn on its own keeps a socket open for as long as its client likes: one that connects and
sends nothing, or half a request's headers, holds a file descriptor for ever, and a few hundred
of them leave the node unable to accept a charger. Here every socket counts against a bound per
node and per client address (a socket beyond either is closed at once), and a request's headers
(a charger's WebSocket upgrade included) must be complete within a deadline of the connection
opening or the request's first byte. What comes after the headers has bounds of its own: the
API's body limit and key checks, the OCPP handshake's limits, WebSocket pings.

With TLS served by uvicorn, the TLS handshake comes before any of this and is bounded by
asyncio's own 60 s handshake timeout only; a TLS proxy in front (docs/deploy.md) bounds it there.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import resource
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from chargegate import metrics
from chargegate.domain.addresses import client_key
from chargegate.ocpp import client_cert

log = logging.getLogger(__name__)

# File descriptors kept for everything but client sockets: database and Redis connections,
# webhook deliveries, log files, the listening socket itself.
RESERVED_FILES = 256


class Dropped(StrEnum):
    """Why a socket was closed here (the label of chargegate_sockets_dropped_total)."""

    NODE_FULL = "node_full"
    ADDRESS_FULL = "address_full"
    HEADER_TIMEOUT = "header_timeout"


# The proxies trusted when FORWARDED_ALLOW_IPS is not set: one on this host (uvicorn 0.55's own
# default; older versions trusted 127.0.0.1 only).
TRUSTED_PROXIES = "127.0.0.1,::1"


def trusted_proxies() -> str:
    """`FORWARDED_ALLOW_IPS`: the proxies whose X-Forwarded-For uvicorn believes."""
    return os.environ.get("FORWARDED_ALLOW_IPS", TRUSTED_PROXIES)


class Proxies:
    """The addresses uvicorn trusts as proxies (`FORWARDED_ALLOW_IPS`: addresses, networks or
    `*`). A proxy carries many clients on one address, so it is bounded per node only.

    Read as uvicorn reads it (its ProxyHeadersMiddleware), so that the proxies exempted here are
    exactly those whose X-Forwarded-For the limits after the headers believe: `*` only on its
    own, and `10.0.0.5/24` (host bits set) no network but a name that no peer matches."""

    def __init__(self, trusted: list[str] | str) -> None:
        entries = [e.strip() for e in trusted.split(",")] if isinstance(trusted, str) else trusted
        self._everyone = entries == ["*"]
        self._names: set[str] = set()
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            try:
                self._networks.append(ipaddress.ip_network(entry))
            except ValueError:
                self._names.add(entry)  # such as a Unix socket's name
                if not self._everyone:
                    log.warning(
                        "FORWARDED_ALLOW_IPS: %r is no address or network; only a peer by that "
                        "name is trusted as a proxy",
                        entry,
                    )

    def __contains__(self, host: str) -> bool:
        if self._everyone or host in self._names:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._networks)


@dataclass(frozen=True, slots=True)
class SocketLimits:
    per_node: int
    per_address: int
    header_timeout_s: float
    proxies: Proxies


class OpenSockets:
    """The sockets this node holds, by client address. A socket is one transport from accept to
    close, whichever protocol (HTTP, then WebSocket after an upgrade) holds it meanwhile."""

    def __init__(self, limits: SocketLimits) -> None:
        self._limits = limits
        self._addresses: dict[asyncio.BaseTransport, str] = {}
        self._per_address: Counter[str] = Counter()

    def admit(
        self, transport: asyncio.BaseTransport, client: tuple[str, int] | None
    ) -> Dropped | None:
        """Count the socket in, or say why it may not stay."""
        if len(self._addresses) >= self._limits.per_node:
            return Dropped.NODE_FULL
        # The socket's peer: which client a proxy's socket carries is known only from headers.
        key = client_key(client)
        if (
            client is not None
            and client[0] not in self._limits.proxies
            and self._per_address[key] >= self._limits.per_address
        ):
            return Dropped.ADDRESS_FULL
        self._addresses[transport] = key
        self._per_address[key] += 1
        return None

    def release(self, transport: asyncio.BaseTransport) -> None:
        """Count the socket out (once, whichever protocol sees it close)."""
        key = self._addresses.pop(transport, None)
        if key is None:
            return
        self._per_address[key] -= 1
        if not self._per_address[key]:
            del self._per_address[key]


def _dropped(why: Dropped, client: tuple[str, int] | None) -> None:
    metrics.SOCKETS_DROPPED.labels(why.value).inc()
    # Info, not warning: a flood would otherwise flood the log too; the counter is for alerts.
    match why:
        case Dropped.NODE_FULL:
            log.info("socket closed: this node holds as many as it may", extra={"client": client})
        case Dropped.ADDRESS_FULL:
            log.info("socket closed: too many open from this address", extra={"client": client})
        case Dropped.HEADER_TIMEOUT:
            log.info("socket closed: request headers too slow", extra={"client": client})
        case _:
            assert_never(why)


def protocols(limits: SocketLimits) -> tuple[type[asyncio.Protocol], type[asyncio.Protocol]]:
    """The HTTP and WebSocket protocol classes for `uvicorn.Config(http=..., ws=...)`, sharing
    one count of open sockets."""
    sockets = OpenSockets(limits)

    class BoundedWebSocket(WebSocketsSansIOProtocol):
        # Past a frame it could not read (too big, not UTF-8): closing, what follows dropped.
        _failed = False

        # Made by the HTTP protocol below on an upgrade, on a socket already counted in.
        def handle_connect(self, event: Request) -> None:
            super().handle_connect(event)
            if self.response.status_code != 101:
                # uvicorn refused the upgrade itself (no Sec-WebSocket-Key, say) and closed the
                # socket: no scope was made, no application will run to read the names.
                return
            names = client_cert.common_names(self.transport.get_extra_info("ssl_object"))
            if names is not None:
                self.scope["extensions"][client_cert.SCOPE_KEY] = {"common_names": names}

        def connection_lost(self, exc: Exception | None) -> None:
            sockets.release(self.transport)
            super().connection_lost(exc)

        def handle_parser_exception(self) -> None:
            # uvicorn closes the socket at once, while the rest of a frame too big to read may
            # still be arriving: the kernel answers that with a reset, which can overtake the
            # close frame (1009), and the charger never learns why. Here the close frame is
            # followed by our end of the stream, and what still arrives is read and dropped
            # (websockets discards it) until the charger hangs up, or close_timeout passes.
            if self._failed:
                return
            self._failed = True
            close = self.conn.close_sent
            assert close is not None
            self.queue.put_nowait(
                {"type": "websocket.disconnect", "code": close.code, "reason": close.reason}
            )
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.close_sent = True
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)

    class BoundedHttp(HttpToolsProtocol):
        _header_deadline: asyncio.TimerHandle | None = None

        # A stream server's transport is always an asyncio.Transport, as uvicorn's own says.
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            refused = sockets.admit(transport, self.client)
            if refused is not None:
                _dropped(refused, self.client)
                transport.close()
                return
            self._await_headers()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._await_headers()

        def on_headers_complete(self) -> None:
            self._headers_arrived()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._headers_arrived()
            sockets.release(self.transport)
            super().connection_lost(exc)

        def _await_headers(self) -> None:
            # From the connection opening, or (on a kept-alive connection) the request's first
            # byte: uvicorn's keep-alive timeout closes one that stays silent after a response.
            if self._header_deadline is None:
                self._header_deadline = self.loop.call_later(
                    limits.header_timeout_s, self._headers_too_slow
                )

        def _headers_arrived(self) -> None:
            if self._header_deadline is not None:
                self._header_deadline.cancel()
                self._header_deadline = None

        def _headers_too_slow(self) -> None:
            self._header_deadline = None
            if not self.transport.is_closing():
                _dropped(Dropped.HEADER_TIMEOUT, self.client)
                self.transport.close()

    return BoundedHttp, BoundedWebSocket


def fit_open_files(per_node: int) -> int:
    """The sockets this process can really hold, at most `per_node`. The soft open-file limit
    (`ulimit -n`, often 1024) is raised as far as the hard one allows; if that is still short,
    the bound is lowered to fit, so that accept() never fails for want of a descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = per_node + RESERVED_FILES
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
        soft = raised
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return per_node
    fitted = max(1, soft - RESERVED_FILES)
    log.warning(
        "the open-file limit (%d, ulimit -n) is below CHARGEGATE_MAX_CONNECTIONS (%d) plus %d: "
        "holding at most %d sockets",
        soft,
        per_node,
        RESERVED_FILES,
        fitted,
    )
    return fitted

"""One webhook POST: to a checked address, within a total deadline, reading a bounded answer.

Each limit is against a receiver that misbehaves on purpose or by accident: one that trickles a
byte every few seconds defeats a per-read timeout (the deadline covers connecting, sending and
the whole answer); one that streams an endless body would fill memory (at most MAX_ANSWER_BYTES
of it is read, and httpcore refuses headers beyond 100 KiB); one whose name resolves to an
internal address would make us its proxy (see webhook_targets).
"""

from __future__ import annotations

import asyncio
import typing
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import httpcore

from chargegate.domain.errors import ChargegateError
from chargegate.domain.webhook_targets import Target
from chargegate.services.webhook_targets import resolve_checked

MAX_ANSWER_BYTES = 64 * 1024
# Idle connections kept for the next delivery to the same receiver (httpx's defaults).
KEEPALIVE_CONNECTIONS = 20
KEEPALIVE_S = 5.0
# Name lookups block a thread each; these are the webhooks' own, so a receiver whose name
# resolves slowly cannot take the default pool that charger password checks run in.
RESOLVER_THREADS = 16


class DeadlinePassed(ChargegateError):
    pass


class _CheckedNetwork(httpcore.AsyncNetworkBackend):
    """Every new connection: the host resolved once, each address checked, then one of those
    very addresses connected to (TLS still verifies the certificate against the name)."""

    def __init__(self, allow_private: bool, resolver: ThreadPoolExecutor) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private
        self._resolver = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve_checked(host, port, self._allow_private, self._resolver)
        failure: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks do not use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class WebhookClient:
    def __init__(self, deadline_s: float, allow_private: bool, max_connections: int) -> None:
        self._deadline_s = deadline_s
        self._resolver = ThreadPoolExecutor(RESOLVER_THREADS, thread_name_prefix="webhook-dns")
        self._pool = httpcore.AsyncConnectionPool(
            # As many as the sender has POSTs under way: none ever waits for another's socket.
            max_connections=max_connections,
            max_keepalive_connections=KEEPALIVE_CONNECTIONS,
            keepalive_expiry=KEEPALIVE_S,
            network_backend=_CheckedNetwork(allow_private, self._resolver),
        )

    async def post(self, target: Target, headers: Sequence[tuple[str, str]], body: bytes) -> int:
        """The answer's status code; raises on anything else (the caller records any error)."""
        url = httpcore.URL(
            scheme=target.scheme.encode(),
            host=target.host.encode(),
            port=target.port,
            target=target.path.encode(),
        )
        sent = [
            ("Host", target.host_header),
            *headers,
            ("Content-Length", str(len(body))),
        ]
        if target.authorization is not None:
            sent.append(("Authorization", target.authorization))
        timeouts = dict.fromkeys(("connect", "read", "write", "pool"), self._deadline_s)
        try:
            async with (
                asyncio.timeout(self._deadline_s),
                self._pool.stream(
                    "POST", url, headers=sent, content=body, extensions={"timeout": timeouts}
                ) as response,
            ):
                await _read_at_most(response, MAX_ANSWER_BYTES)
                return response.status
        except TimeoutError:
            raise DeadlinePassed(f"no complete answer within {self._deadline_s:g} s") from None

    async def aclose(self) -> None:
        await self._pool.aclose()
        self._resolver.shutdown(wait=False, cancel_futures=True)


async def _read_at_most(response: httpcore.Response, limit: int) -> None:
    """Read and drop the answer's body up to `limit` bytes. Only the status counts; stopping
    early costs the connection (it cannot be reused), not the verdict."""
    read = 0
    async for chunk in response.aiter_stream():
        read += len(chunk)
        if read > limit:
            return

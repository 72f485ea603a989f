"""Resolving a webhook's host and refusing internal addresses (the rules: domain/webhook_targets).

The addresses checked are the addresses connected to (services/webhook_http.py asks here on
every new connection): a name that resolves to a public address when checked and to 127.0.0.1
when connected (DNS rebinding) cannot slip through, since it is resolved once.
"""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import Executor
from ipaddress import ip_address

from chargegate.domain.errors import ChargegateError
from chargegate.domain.webhook_targets import IPAddress, parse_target, refusal

ALLOW_SETTING = "CHARGEGATE_WEBHOOK_ALLOW_PRIVATE"


class TargetRefused(ChargegateError):
    """The webhook's host is, or resolves to, an address webhooks may not reach."""


async def resolve(host: str, port: int, executor: Executor | None) -> list[IPAddress]:
    """Every address `host` stands for, in the resolver's order, without repeats."""
    try:
        return [ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.run_in_executor(
        executor, socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM
    )
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # An IPv6 link-local answer carries its zone (fe80::1%eth0); the zone is not the address.
        address = ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def check(host: str, addresses: list[IPAddress]) -> None:
    """Refuse the host if any address it resolves to is internal: which one a connection would
    take is the resolver's choice, so one internal answer is enough to refuse."""
    for address in addresses:
        kind = refusal(address)
        if kind is not None:
            shown = host if host == str(address) else f"{host} ({address})"
            raise TargetRefused(
                f"{shown} is a {kind} address; webhooks go to public addresses only "
                f"(set {ALLOW_SETTING}=true to allow internal ones)"
            )


async def resolve_checked(
    host: str, port: int, allow_private: bool, executor: Executor | None
) -> list[IPAddress]:
    addresses = await resolve(host, port, executor)
    if not allow_private:
        check(host, addresses)
    return addresses


async def vet(url: str, allow_private: bool) -> None:
    """When a webhook is added: raise BadTarget or TargetRefused for a URL no delivery could
    go to. A name that does not resolve now is let through; every delivery checks again."""
    target = parse_target(url)
    if allow_private:
        return
    try:
        addresses = await resolve(target.host, target.port, None)
    except OSError:
        return
    check(target.host, addresses)

"""Where a webhook may be sent, without I/O: reading its URL, and which addresses are refused.

A webhook makes this server open connections to a place someone else chose. Left unchecked that
reaches what only the server can reach: its own admin ports, the database, the cloud's
instance-metadata service (which hands out credentials). So the address a name resolves to is
checked (see services/webhook_targets.py), not the name.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

import idna

from chargegate.domain.errors import ChargegateError

IPAddress = IPv4Address | IPv6Address

# Instance-metadata services (AWS and GCP and Azure, AWS over IPv6, Alibaba): named in the error,
# since an attempt to reach one is an attack, not a typo.
METADATA = frozenset(
    {ip_address("169.254.169.254"), ip_address("fd00:ec2::254"), ip_address("100.100.100.200")}
)
# IPv6 prefixes that carry an IPv4 address a gateway connects to: judged by that address.
_NAT64 = IPv6Network("64:ff9b::/96")
# IPv6 prefixes no public receiver is reached by, which Python's is_global may still call
# global: local-use NAT64 (RFC 8215, the operator's own translator, IPv4 address at a place
# only it knows), deprecated site-local, and the IPv4-compatible and IPv4-translated forms
# (deprecated or for translators, where a stack may route them to the IPv4 address inside).
_NEVER_PUBLIC = (
    IPv6Network("64:ff9b:1::/48"),
    IPv6Network("fec0::/10"),
    IPv6Network("::/96"),
    IPv6Network("::ffff:0:0:0/96"),
)
_LABEL = re.compile(r"[a-z0-9_-]{1,63}")
_HOST_MAX = 253


class BadTarget(ChargegateError, ValueError):
    """A webhook URL that cannot be sent to, with what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Target:
    scheme: Literal["http", "https"]
    # An ASCII name (IDNA-encoded) or an IP address, without brackets.
    host: str
    port: int
    # Path and query, ASCII.
    path: str
    # From user:password in the URL (HTTP Basic), as httpx sent it before.
    authorization: str | None

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_target(url: str) -> Target:
    """Raise BadTarget unless `url` is an http(s) URL we can send to as it is."""
    for position, char in enumerate(url):
        # urlsplit quietly drops tabs and newlines; a header built from them would be injected.
        if unicodedata.category(char) in ("Cc", "Cs") or char.isspace():
            raise BadTarget(f"{url!r}: control or space character at position {position}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadTarget(f"{url!r} is not an http(s) URL with a host")
    try:
        port = parts.port
    except ValueError as exc:
        raise BadTarget(f"{url!r}: {exc}") from None
    scheme: Literal["http", "https"] = "https" if parts.scheme == "https" else "http"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return Target(
        scheme=scheme,
        host=_host(parts.hostname, url),
        port=port if port is not None else (443 if scheme == "https" else 80),
        path=path,
        authorization=_basic(parts.username, parts.password),
    )


def _host(hostname: str, url: str) -> str:
    try:
        return str(ip_address(hostname))
    except ValueError:
        pass
    try:
        if not hostname.isascii():
            hostname = idna.encode(hostname, uts46=True).decode("ascii")
        for label in hostname.rstrip(".").split("."):
            # Underscores are not in the standard but are in real names; httpx took them.
            if not _LABEL.fullmatch(label):
                raise BadTarget(f"{url!r}: {label!r} is not a host name label")
            if label.startswith("xn--"):
                idna.decode(label)
    except idna.IDNAError as exc:
        raise BadTarget(f"{url!r}: host is not a valid internationalized name ({exc})") from None
    if len(hostname) > _HOST_MAX:
        raise BadTarget(f"{url!r}: host name longer than {_HOST_MAX} characters")
    return hostname


def _basic(username: str | None, password: str | None) -> str | None:
    if not username:
        return None
    pair = f"{unquote(username)}:{unquote(password or '')}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def refusal(address: IPAddress) -> str | None:
    """What kind of address this is when a webhook may not go there; None when it is public."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return refusal(embedded)
    if address in METADATA:
        return "cloud metadata"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_private:
        return "private"
    if isinstance(address, IPv6Address) and any(address in net for net in _NEVER_PUBLIC):
        return "non-public"
    # Unspecified (0.0.0.0 reaches this host), multicast, reserved, shared (100.64/10) ...
    if address.is_multicast or not address.is_global:
        return "non-public"
    return None


def _embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), which is where it goes."""
    if isinstance(address, IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None

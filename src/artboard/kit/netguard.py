"""Which destinations a user may point the server at: never cloud metadata, internal only when allowed.

A URL a user saves (a GPU endpoint today) is one the server will call later, from inside its own network
(SSRF). ``check_url`` judges the URL's literal host when it is saved; a name can resolve to anything, so the
code that makes the call must also pass each address the name resolved to through ``check_address``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic_core import Url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance metadata services hand out the machine's cloud credentials: no allowlist opens them.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud Classic
    )
)
METADATA_HOSTS = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"}
)
_LOOPBACK = ipaddress.ip_address("127.0.0.1")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


class BlockedDestination(ValueError):
    """A destination the server must not call; ``allowable`` when an operator's allowlist could permit it."""

    def __init__(self, reason: str, *, allowable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.allowable = allowable


@dataclass(frozen=True)
class Allowlist:
    """Internal host names and networks an operator lets users reach (link-local and metadata stay closed)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        """Host names, IP addresses and CIDR networks; raises ValueError naming the first bad entry."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            text = _normal_host(entry.strip())
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                if not _HOSTNAME.match(text):
                    raise ValueError(f"{entry!r} is not a host name, an IP address or a CIDR network") from None
                hosts.add(text)
        return cls(frozenset(hosts), tuple(networks))

    def permits(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def check_url(url: str, allow: Allowlist) -> None:
    """Raise BlockedDestination unless the http(s) URL's host may be called.

    The URL is read as browsers read it, so ``http://2852039166/``, ``http://0xa9.0xfe.0xa9.0xfe/`` and
    ``http://user@169.254.169.254/`` are all 169.254.169.254. Names other than ``localhost`` and the metadata
    ones pass: only their resolved addresses can be judged, at call time.
    """
    try:
        parsed = Url(url)
    except ValueError:
        raise BlockedDestination("it is not a valid URL", allowable=False) from None
    host = _normal_host(parsed.host or "")
    if parsed.scheme not in ("http", "https") or not host:
        raise BlockedDestination("only http and https URLs with a host can be called", allowable=False)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        _check_name(host, allow)
    else:
        check_address(address, allow)


def check_address(address: IPAddress | str, allow: Allowlist) -> None:
    """Raise BlockedDestination for a metadata or link-local address, or another non-public one not allowed."""
    given = ipaddress.ip_address(address)
    target = _reached(given)
    shown = str(given) if target == given else f"{given} ({target})"
    if target in METADATA_ADDRESSES:
        raise BlockedDestination(f"{shown} is a cloud metadata address", allowable=False)
    if target.is_link_local:
        raise BlockedDestination(f"{shown} is a link-local address", allowable=False)
    kind = _internal_kind(target)
    if kind is not None and not allow.permits(target):
        raise BlockedDestination(f"{shown} is {kind} address", allowable=True)


def _check_name(host: str, allow: Allowlist) -> None:
    if host in METADATA_HOSTS:
        raise BlockedDestination(f"{host} is a cloud metadata host", allowable=False)
    # localhost is the machine itself whatever DNS says (RFC 6761).
    is_loopback = host == "localhost" or host.endswith(".localhost")
    if is_loopback and host not in allow.hosts and not allow.permits(_LOOPBACK):
        raise BlockedDestination(f"{host} is a loopback address", allowable=True)


def _normal_host(host: str) -> str:
    """``[::1]`` → ``::1``; names compare lowercased and without the root's trailing dot."""
    return host.removeprefix("[").removesuffix("]").lower().rstrip(".")


def _reached(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one delivers to, when it carries one (mapped, NAT64, 6to4)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def _internal_kind(address: IPAddress) -> str | None:
    """Why an address is not a public unicast one (with its article), or None when it is."""
    site_local = isinstance(address, ipaddress.IPv6Address) and address.is_site_local
    for kind, applies in (
        ("a loopback", address.is_loopback),
        ("an unspecified", address.is_unspecified),
        ("a multicast", address.is_multicast),
        ("a private", address.is_private or site_local),
        ("a reserved", address.is_reserved or not address.is_global),
    ):
        if applies:
            return kind
    return None

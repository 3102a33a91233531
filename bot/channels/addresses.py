"""Who is asking, as a rate-limit key: the client's address, grouped.

Behind a reverse proxy every request comes from the proxy; ``X-Forwarded-For`` then names
the client, but only a proxy we trust may say so (``INTAKE_TRUSTED_PROXIES``: addresses or
networks). The header is read from the right: the first address that is not a trusted
proxy is the client. An IPv6 client is grouped by its /64 (one household or phone gets a
whole /64, and can pick any address in it); an IPv4 client is its address.

Nothing here is stored or logged: the key only lives in the rate limiter.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """``INTAKE_TRUSTED_PROXIES`` as networks; ValueError names a malformed entry."""
    networks = []
    for entry in entries:
        entry = entry.strip()
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"INTAKE_TRUSTED_PROXIES: {entry!r} is not an address or network") from None
    return tuple(networks)


@functools.lru_cache(maxsize=4096)
def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``text`` as an address, or None. Remembered: every request asks for its peer's
    (and parsing costs more than the rest of the address checks)."""
    if not text:
        return None
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def client_address(
    peer: str | None, headers: Mapping[str, str], trusted: tuple[Network, ...]
) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The client's address: the peer, or what trusted proxies say in X-Forwarded-For."""
    address = _address(peer)
    if address is None or not _trusted(address, trusted):
        return address
    forwarded = headers.get("X-Forwarded-For", "")
    for hop in reversed([h for h in forwarded.split(",") if h.strip()]):
        hop_address = _address(hop)
        if hop_address is None:
            return address  # a malformed chain: the last proxy we trust is all we know
        if not _trusted(hop_address, trusted):
            return hop_address
        address = hop_address
    return address


@functools.lru_cache(maxsize=4096)
def group(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> str:
    """The rate-limit key of an address: IPv4 as it is, IPv6 by its /64."""
    if address is None:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


def came_over_https(scheme: str, headers: Mapping[str, str], peer_trusted: bool) -> bool:
    """Whether the client's request came over HTTPS: to us, or to a trusted proxy that says so."""
    if scheme == "https":
        return True
    return peer_trusted and headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower() == "https"


def peer_is_trusted(peer: str | None, trusted: tuple[Network, ...]) -> bool:
    address = _address(peer)
    return address is not None and _trusted(address, trusted)

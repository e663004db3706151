"""The caller's address: the one place it is derived.

`rpa orchestrator` runs uvicorn with its own proxy-header handling off, so the peer of the socket
reaches the app unchanged; `X-Forwarded-For` is read here and believed only as far as the chain
of proxies is trusted (`RPA_TRUSTED_PROXIES`: addresses or networks, default none). The list is
walked from the right, the hop the peer itself added, and the first address that is not a
trusted proxy is the client: whatever a client wrote to the left of it is never believed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """The networks of `RPA_TRUSTED_PROXIES` (an address stands for its host network).

    Raises:
        ValueError: an entry that is neither an address nor a network, named.
    """
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"RPA_TRUSTED_PROXIES: {entry!r} is not an IP address or network") from None
    return tuple(networks)


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str, forwarded_for: str | None, trusted: tuple[str, ...]) -> str:
    """The client's address for a request from `peer` carrying `forwarded_for`.

    Args:
        peer: the socket peer's address.
        forwarded_for: the `X-Forwarded-For` header (all of its values, comma-joined), if any.
        trusted: `RPA_TRUSTED_PROXIES`.

    Returns:
        `peer` unless it is a trusted proxy; else the rightmost untrusted address of the header
        (the leftmost one when every hop is trusted).
    """
    networks = trusted_networks(trusted)
    if not forwarded_for or not networks or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop if _is_address(hop) else peer
    return hops[0] if hops else peer


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True

"""Client addresses: where a connection comes from, and which peers are proxies trusted to say.

With ``trusted_proxies`` set, uvicorn's proxy-headers middleware (a documented option) replaces a
trusted peer's address with the one its ``X-Forwarded-For`` names before any route sees the request;
:func:`client_address` then reads the client's. :class:`Networks` answers whether a TCP peer is one of
those proxies (its connections are counted per address only once its request says whose they are).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

__all__ = ["Networks", "client_address"]


def client_address(scope: Any) -> str:
    """The client's address of an ASGI ``scope`` (the forwarded one behind a trusted proxy), or ``""``."""
    client = scope.get("client")
    return str(client[0]) if client else ""


class Networks:
    """A set of addresses and networks (``"10.0.0.1"``, ``"10.0.0.0/8"``, ``"::1"``; ``"*"`` for any).

    Raises:
        ValueError: an entry is neither an address nor a network, with the entry named.
    """

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries = tuple(entries)
        self.any = "*" in self.entries
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in self.entries:
            if entry == "*":
                continue
            try:
                self._networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (such as 10.0.0.0/8)") from None

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __contains__(self, host: object) -> bool:
        if self.any:
            return True
        if not isinstance(host, str) or not self._networks:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._networks)

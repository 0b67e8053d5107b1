"""Who is connected to this process: every open connection by client id, user root and channel, and how many
sockets each client address holds."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Members"]


class Members:
    """The indexes the hub delivers through. Call on the hub's loop only.

    Args:
        per_address_limit: sockets (open or in their handshake) one client address may hold.
    """

    def __init__(self, per_address_limit: int) -> None:
        self.per_address_limit = per_address_limit
        self.connections: dict[str, Connection] = {}
        self.by_root: dict[str, dict[str, Connection]] = {}
        self.by_channel: dict[str, dict[str, Connection]] = {}
        self.per_address: dict[str, int] = {}  # open sockets and handshakes of each client address

    def add(self, conn: Connection) -> None:
        """Index a new connection under its client id, user and channel."""
        self.connections[conn.client_id] = conn
        self.by_root.setdefault(conn.root_id, {})[conn.client_id] = conn
        for channel_id in conn.channels:
            self.by_channel.setdefault(channel_id, {})[conn.client_id] = conn

    def remove(self, conn: Connection) -> bool:
        """Forget a connection; False if it was not (or no longer) indexed."""
        if self.connections.pop(conn.client_id, None) is None:
            return False
        _discard(self.by_root, conn.root_id, conn.client_id)
        for channel_id in conn.channels:
            _discard(self.by_channel, channel_id, conn.client_id)
        return True

    def join_channels(self, conn: Connection, channel_ids: Iterable[str]) -> list[str]:
        """Put ``conn`` on these channels too (those it is on already are skipped); its channels now."""
        channels = list(conn.channels)
        for channel_id in channel_ids:
            if channel_id not in channels:
                channels.append(channel_id)
                self.by_channel.setdefault(channel_id, {})[conn.client_id] = conn
        conn.set_channels(channels)
        return channels

    def leave_channels(self, conn: Connection, channel_ids: Iterable[str]) -> list[str]:
        """Take ``conn`` off these channels (those it is not on are skipped); its channels now."""
        gone = set(channel_ids)
        channels = [channel_id for channel_id in conn.channels if channel_id not in gone]
        for channel_id in gone:
            _discard(self.by_channel, channel_id, conn.client_id)
        conn.set_channels(channels)
        return channels

    def unindex_user(self, conn: Connection) -> None:
        """Take ``conn`` out of its user's entry (before its user changes; :meth:`index_user` after)."""
        _discard(self.by_root, conn.root_id, conn.client_id)

    def index_user(self, conn: Connection) -> None:
        """Put ``conn`` under its (new) user."""
        self.by_root.setdefault(conn.root_id, {})[conn.client_id] = conn

    def of_users(self, root_ids: Iterable[str]) -> dict[str, Connection]:
        """Every connection of these users, each once."""
        targets: dict[str, Connection] = {}
        for root_id in root_ids:
            targets.update(self.by_root.get(root_id, {}))
        return targets

    def on_channels(self, channel_ids: Iterable[str]) -> dict[str, Connection]:
        """Every connection on these channels, each once."""
        targets: dict[str, Connection] = {}
        for channel_id in channel_ids:
            targets.update(self.by_channel.get(channel_id, {}))
        return targets

    def with_ids(self, client_ids: Iterable[str]) -> dict[str, Connection]:
        """The connections of these client ids that are here."""
        connections = self.connections
        return {cid: connections[cid] for cid in client_ids if cid in connections}

    def arrive(self, address: str) -> bool:
        """Count a socket from ``address``; False (counting nothing) when the address holds its limit already.
        Every True is followed by one :meth:`leave`."""
        here = self.per_address.get(address, 0)
        if here >= self.per_address_limit:
            return False
        self.per_address[address] = here + 1
        return True

    def leave(self, address: str) -> None:
        """A socket counted by :meth:`arrive` is gone (its handshake failed or its connection closed)."""
        left = self.per_address[address] - 1
        if left:
            self.per_address[address] = left
        else:
            del self.per_address[address]


def _discard(index: dict[str, dict[str, Connection]], key: str, client_id: str) -> None:
    members = index.get(key)
    if members is not None:
        members.pop(client_id, None)
        if not members:
            del index[key]

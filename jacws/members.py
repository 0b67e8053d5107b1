"""Who is connected to this process: every open connection by client id, user root and channel, and how many
sockets each client address holds."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Members"]


class Members:
    """The indexes the hub delivers through. Call on the hub's loop only.

    Args:
        per_address_limit: sockets (open or in their handshake) one client address may hold.
        interest: told ``(kind, key, True)`` when the first member of a channel, user or client arrives here and
            ``(kind, key, False)`` when the last leaves (a relay that routes by interest subscribes accordingly).

    ``on_channel(channel_id, conn, True)`` is called whenever a connection comes onto a channel (connecting, a
    join, a new user after ``change_user``) and ``(..., False)`` whenever it goes (leaving, closing, its user
    changing): presence follows it.
    """

    def __init__(self, per_address_limit: int, interest: Callable[[str, str, bool], None] | None = None) -> None:
        self.per_address_limit = per_address_limit
        self.interest = interest
        self.on_channel: Callable[[str, Connection, bool], None] | None = None
        self.connections: dict[str, Connection] = {}
        self.by_root: dict[str, dict[str, Connection]] = {}
        self.by_channel: dict[str, dict[str, Connection]] = {}
        self.per_address: dict[str, int] = {}  # open sockets and handshakes of each client address

    def add(self, conn: Connection) -> None:
        """Index a new connection under its client id, user and channel."""
        self.connections[conn.client_id] = conn
        self._put(self.by_root, "user", conn.root_id, conn)
        for channel_id in conn.channels:
            self._put(self.by_channel, "channel", channel_id, conn)
            self._moved(channel_id, conn, True)
        if self.interest is not None:
            self.interest("client", conn.client_id, True)

    def remove(self, conn: Connection) -> bool:
        """Forget a connection; False if it was not (or no longer) indexed."""
        if self.connections.pop(conn.client_id, None) is None:
            return False
        self._take(self.by_root, "user", conn.root_id, conn.client_id)
        for channel_id in conn.channels:
            self._take(self.by_channel, "channel", channel_id, conn.client_id)
            self._moved(channel_id, conn, False)
        if self.interest is not None:
            self.interest("client", conn.client_id, False)
        return True

    def join_channels(self, conn: Connection, channel_ids: Iterable[str]) -> list[str]:
        """Put ``conn`` on these channels too (those it is on already are skipped); its channels now."""
        channels = list(conn.channels)
        for channel_id in channel_ids:
            if channel_id not in channels:
                channels.append(channel_id)
                self._put(self.by_channel, "channel", channel_id, conn)
                self._moved(channel_id, conn, True)
        conn.set_channels(channels)
        return channels

    def leave_channels(self, conn: Connection, channel_ids: Iterable[str]) -> list[str]:
        """Take ``conn`` off these channels (those it is not on are skipped); its channels now."""
        gone = set(channel_ids)
        channels: list[str] = []
        for channel_id in conn.channels:
            if channel_id in gone:
                self._take(self.by_channel, "channel", channel_id, conn.client_id)
                self._moved(channel_id, conn, False)
            else:
                channels.append(channel_id)
        conn.set_channels(channels)
        return channels

    def unindex_user(self, conn: Connection) -> None:
        """Take ``conn`` out of its user's entry (before its user changes; :meth:`index_user` after)."""
        self._take(self.by_root, "user", conn.root_id, conn.client_id)
        for channel_id in conn.channels:
            self._moved(channel_id, conn, False)

    def index_user(self, conn: Connection) -> None:
        """Put ``conn`` under its (new) user."""
        self._put(self.by_root, "user", conn.root_id, conn)
        for channel_id in conn.channels:
            self._moved(channel_id, conn, True)

    def _moved(self, channel_id: str, conn: Connection, joined: bool) -> None:
        if self.on_channel is not None:
            self.on_channel(channel_id, conn, joined)

    def _put(self, index: dict[str, dict[str, Connection]], kind: str, key: str, conn: Connection) -> None:
        members = index.get(key)
        if members is None:
            members = index[key] = {}
            if self.interest is not None:
                self.interest(kind, key, True)
        members[conn.client_id] = conn

    def _take(self, index: dict[str, dict[str, Connection]], kind: str, key: str, client_id: str) -> None:
        members = index.get(key)
        if members is None or members.pop(client_id, None) is None:
            return
        if not members:
            del index[key]
            if self.interest is not None:
                self.interest(kind, key, False)

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

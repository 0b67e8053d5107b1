"""``notify_*`` from walkers and from the server handle: data serialised in the caller's thread, delivered on
the hub's loop in call order, to one connection (``notify_self``), users, channels or clients.

Inside an ability, :data:`socket` passes the calls to the notifier of the walker running in this context."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .errors import InvalidTarget, NotInWalker
from .graph import Node
from .protocol import encode, normalize_node_id
from .trace import Cause

if TYPE_CHECKING:
    from .connection import Connection
    from .hub import Hub

__all__ = ["HubNotifier", "Notifier", "NotifiesThrough", "current_notifier", "socket"]


def _root_ids(roots: Iterable[Any]) -> list[str]:
    ids: list[str] = []
    for root in roots:
        value = root.id if isinstance(root, Node) else root
        try:
            ids.append(normalize_node_id(value))
        except ValueError:
            raise InvalidTarget(f"notify_users: {value!r:.80} is not a root id (n::<24 hex> or <24 hex>)") from None
    return ids


def _ids(ids: Iterable[str], what: str) -> list[str]:
    if isinstance(ids, str):
        raise InvalidTarget(f"{what} takes a list of ids, not a single string")
    return [str(i) for i in ids]


class HubNotifier:
    """``notify_*`` bound to one connection (``notify_self``) or none; callable from any thread.

    Data is serialised in the caller's thread (so a bad value raises in the walker),
    then delivered on the hub's loop in call order. ``origin`` is what traced clients are
    told started these notifications (a socket's walker event, a REST call, the server).
    """

    def __init__(self, hub: Hub, conn: Connection | None, origin: Cause | None = None) -> None:
        self.hub = hub
        self.conn = conn
        self.origin = origin
        self.active = True  # set False when the walker ends: late calls (after a timeout) are dropped

    def notify_self(self, data: Any) -> None:
        """Send ``data`` to the connection running the walker; a no-op over REST."""
        if self.conn is not None:
            self._send("self", (), self.conn.enqueue, encode(data))

    def notify_users(self, roots: Iterable[Any], data: Any) -> None:
        """Send ``data`` to every connection of these users (roots or root ids)."""
        root_ids = _root_ids(_ids_or_nodes(roots))
        self._send("user", root_ids, self.hub.deliver_users, root_ids, encode(data))

    def notify_channels(self, channel_ids: Iterable[str], data: Any) -> None:
        """Send ``data`` to every connection on these channels."""
        ids = _ids(channel_ids, "notify_channels")
        self._send("channel", ids, self.hub.deliver_channels, ids, encode(data))

    def notify_clients(self, client_ids: Iterable[str], data: Any) -> None:
        """Send ``data`` to these connections."""
        ids = _ids(client_ids, "notify_clients")
        self._send("client", ids, self.hub.deliver_clients, ids, encode(data))

    def _send(self, route: str, targets: Sequence[str], deliver: Callable[..., Any], *args: Any) -> None:
        if not self.active:
            return
        origin = self.origin
        if origin is None:
            self.hub.call_soon(deliver, *args)
        else:
            self.hub.call_soon(self.hub.caused, origin.with_route(route, tuple(targets)), deliver, *args)


def _ids_or_nodes(roots: Iterable[Any]) -> Iterable[Any]:
    if isinstance(roots, (str, Node)):
        raise InvalidTarget("notify_users takes a list of roots or root ids, not a single one")
    return roots


class Notifier(Protocol):
    """Where a walker's ``socket.notify_*`` calls go; thread-safe."""

    def notify_self(self, data: dict[str, Any]) -> None: ...

    def notify_users(self, roots: Iterable[Any], data: dict[str, Any]) -> None: ...

    def notify_channels(self, channel_ids: Iterable[str], data: dict[str, Any]) -> None: ...

    def notify_clients(self, client_ids: Iterable[str], data: dict[str, Any]) -> None: ...


current_notifier: contextvars.ContextVar[Notifier] = contextvars.ContextVar("jacws_notifier")


class NotifiesThrough:
    """``notify_users``, ``notify_channels`` and ``notify_clients`` passed on to :meth:`_notifier`."""

    def _notifier(self) -> Notifier:
        raise NotImplementedError

    def notify_users(self, roots: Iterable[Any], data: Any) -> None:
        """Send ``data`` to every connection of these users (roots or root ids)."""
        self._notifier().notify_users(roots, data)

    def notify_channels(self, channel_ids: Iterable[str], data: Any) -> None:
        """Send ``data`` to every connection on these channels."""
        self._notifier().notify_channels(channel_ids, data)

    def notify_clients(self, client_ids: Iterable[str], data: Any) -> None:
        """Send ``data`` to these connections."""
        self._notifier().notify_clients(client_ids, data)


class _Socket(NotifiesThrough):
    """The seed's ``WEBSOCKET_MANAGER``, bound to the walker running in this context."""

    def _notifier(self) -> Notifier:
        try:
            return current_notifier.get()
        except LookupError:
            raise NotInWalker(
                "socket.notify_* works inside a running walker; outside one use the server handle, "
                "e.g. server.notify_channels(...)"
            ) from None

    def notify_self(self, data: dict[str, Any]) -> None:
        """Send ``data`` to the socket that called this walker (a no-op over REST)."""
        self._notifier().notify_self(data)


socket = _Socket()
"""``socket.notify_self/users/channels/clients`` for use inside abilities."""

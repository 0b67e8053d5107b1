"""Who sent what to whom: the message-flow model behind the playground's flow view.

A :class:`Traffic` watches a set of simulated clients. Every event a client sends and
every message one receives becomes a :class:`Flow` between two lanes (a client's name or
``"server"``). A received notification is traced back to the client whose ``user``,
``channel`` or ``client`` event carried the same data a moment before; anything else
(walker notifications, server-side notify calls, responses) comes from the server. No
ipywidgets here: the widgets are a view over this model.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from .client import Client, Message, Sent

__all__ = ["SERVER", "Flow", "Traffic"]

MAX_ROUTES = 20_000
"""How many received messages keep their route for :meth:`Traffic.route_of`."""

SERVER = "server"
"""The lane of the server (walker answers and notifications from walkers or the server handle)."""

MATCH_WINDOW = 10.0
"""Seconds a sent event's data stays eligible for tracing received messages back to it."""


@dataclass(frozen=True)
class Flow:
    """One arrow: ``source`` lane to ``target`` lane, what kind of message, a short label."""

    seq: int
    at: float
    source: str
    target: str
    kind: str  # channel, user, client, walker, change_user, connection, response, error, notify
    label: str
    route: str = ""  # e.g. "channel room" for a delivery traced to a channel event

    def to_dict(self) -> dict[str, Any]:
        """The flow as plain JSON values (what the flow view's front end draws)."""
        return {
            "seq": self.seq,
            "at": self.at,
            "source": self.source,
            "target": self.target,
            "kind": self.kind,
            "label": self.label,
            "route": self.route,
        }


@dataclass
class _Pending:
    sender: str
    route: str
    kind: str
    at: float
    reached: set[str] = field(default_factory=set)


def _label(data: Any, limit: int = 40) -> str:
    kind = data.get("type") if isinstance(data, dict) else None
    text: str = kind if isinstance(kind, str) else orjson.dumps(data).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Traffic:
    """The flows among a set of clients, kept to the most recent ``keep``.

    Args:
        clients: the clients to watch (more can be added with :meth:`watch`).
        keep: how many flows to remember.
        clock: wall-clock seconds (``time.time``).
    """

    def __init__(self, clients: Iterable[Client] = (), keep: int = 500, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._flows: deque[Flow] = deque(maxlen=keep)
        self._pending: dict[bytes, deque[_Pending]] = {}
        self._routes: dict[tuple[str, int], str] = {}
        self._seq = itertools.count(1)
        self._callbacks: list[Callable[[Flow], None]] = []
        self.clock = clock
        self.total = 0
        self.clients: list[Client] = []
        for client in clients:
            self.watch(client)

    def watch(self, client: Client) -> None:
        """Start tracing a client's sends and receipts."""
        if client in self.clients:
            return
        self.clients.append(client)
        client.on_send(self.record_sent)
        client.on_message(self.record_received)

    def on_flow(self, callback: Callable[[Flow], None]) -> None:
        """Call ``callback(flow)`` for each new flow (on the thread that caused it)."""
        self._callbacks.append(callback)

    @property
    def flows(self) -> list[Flow]:
        """The remembered flows, oldest first."""
        with self._lock:
            return list(self._flows)

    def route_of(self, client: Client, message: Message) -> str:
        """How a received message got to ``client`` (``"channel room"``, ``"walker"``, ...) if known."""
        with self._lock:
            return self._routes.get((client.name, message.index), "")

    def record_sent(self, client: Client, sent: Sent) -> None:
        """Note one sent event (a client's ``on_send`` callback)."""
        event = sent.event
        kind = str(event.get("type"))
        if kind in ("user", "channel", "client"):
            ids = event.get(f"{kind}_ids") or event.get("root_ids") or []
            route = f"{kind} {', '.join(str(i)[:16] for i in ids)}"
            key = orjson.dumps(event.get("data"))
            with self._lock:
                self._pending.setdefault(key, deque()).append(_Pending(client.name, route, kind, sent.sent_at))
            self._add(client.name, SERVER, kind, _label(event.get("data")), route, sent.sent_at)
        elif kind == "walker":
            self._add(client.name, SERVER, "walker", f"walker {event.get('walker')}", "", sent.sent_at)
        else:
            self._add(client.name, SERVER, kind, kind, "", sent.sent_at)

    def record_received(self, client: Client, message: Message) -> None:
        """Note one received message (a client's ``on_message`` callback)."""
        kind = message.kind
        if kind == "connection":
            self._add(SERVER, client.name, "connection", "connection", "", message.received_at)
            return
        if kind == "response":
            self._add(
                SERVER, client.name, "response", f"reports ({len(message.data['reports'])})", "", message.received_at
            )
            return
        if kind == "error":
            self._add(SERVER, client.name, "error", f"error {message.data['code']}", "", message.received_at)
            return
        pending = self._match(client.name, message)
        if pending is None:
            self._add(SERVER, client.name, "notify", _label(message.data), "notify", message.received_at)
            self._remember_route(client.name, message.index, "notify")
            return
        self._remember_route(client.name, message.index, pending.route)
        self._add(pending.sender, client.name, pending.kind, _label(message.data), pending.route, message.received_at)

    def _remember_route(self, receiver: str, index: int, route: str) -> None:
        with self._lock:
            self._routes[(receiver, index)] = route
            if len(self._routes) > MAX_ROUTES:
                for old in list(itertools.islice(self._routes, len(self._routes) - MAX_ROUTES)):
                    del self._routes[old]

    def _match(self, receiver: str, message: Message) -> _Pending | None:
        key = orjson.dumps(message.data)
        horizon = message.received_at - MATCH_WINDOW
        with self._lock:
            queue = self._pending.get(key)
            if not queue:
                return None
            while queue and queue[0].at < horizon:
                queue.popleft()
            for pending in queue:
                if receiver not in pending.reached:
                    pending.reached.add(receiver)
                    return pending
            if not queue:
                del self._pending[key]
        return None

    def _add(self, source: str, target: str, kind: str, label: str, route: str, at: float) -> None:
        flow = Flow(next(self._seq), at, source, target, kind, label, route)
        with self._lock:
            self._flows.append(flow)
            self.total += 1
        for callback in list(self._callbacks):
            callback(flow)

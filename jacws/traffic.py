"""Who sent what to whom: the message-flow model behind the playground's flow view and cards.

A :class:`Traffic` watches a set of simulated clients. Every event a client sends and
every message one receives becomes a :class:`Flow` between two lanes (a client's name or
``"server"``), and every received message gets a :class:`Route`: how it was addressed
(``channel``, ``user``, ``client``, ``self``, ``response``, ``error``, ``connection``) and
what started it. When the server runs in this process, each message carries its exact
cause (:mod:`jacws.trace`); otherwise a notification is traced back to the client whose
``user``, ``channel`` or ``client`` event carried the same data a moment before. Sends
are recorded before their frame can leave, so an answer never precedes its question.
No ipywidgets here: the widgets are views over this model.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from .client import Client, Message, Sent
from .flows import (
    KINDS,
    SERVER,
    TEXT_LIMIT,
    Flow,
    Route,
    SendRecord,
    answer_label,
    answer_words,
    as_json,
    origin_words,
    plain_route,
    short_label,
)
from .trace import Cause

__all__ = ["KINDS", "SERVER", "TEXT_LIMIT", "Flow", "Route", "Traffic"]

MAX_REMEMBERED = 10_000
"""How many received messages keep their route, and sends their flow, for look-ups."""

MATCH_WINDOW = 10.0
"""Seconds a sent event's data stays eligible for tracing received messages back to it (no exact cause)."""


@dataclass
class _Pending:
    sender: str
    kind: str
    route: str
    at: float
    seq: int
    targets: tuple[str, ...]
    reached: set[str] = field(default_factory=set)


def _trim(mapping: OrderedDict[Any, Any]) -> None:
    while len(mapping) > MAX_REMEMBERED:
        mapping.popitem(last=False)


class Traffic:
    """The flows among a set of clients, the most recent ``keep`` of them, and each receipt's route.

    Recording is cheap, on the clients' threads: a send or a receipt joins a list, in the
    order they happen (a send before its frame leaves). The work of turning them into flows
    and routes is done by whoever reads (the playground's display thread, a test), in
    batches, so a burst costs the clients next to nothing.

    A model that is not ``live`` keeps only its list of clients and costs them nothing until
    :meth:`start`, which also takes in what they sent and received before (the latest ``keep``).

    Args:
        clients: the clients to watch (more can be added with :meth:`watch`).
        keep: how many flows to remember.
        clock: wall-clock seconds (``time.time``).
        live: start watching now.
    """

    def __init__(
        self,
        clients: Iterable[Client] = (),
        keep: int = 10_000,
        clock: Callable[[], float] = time.time,
        live: bool = True,
    ) -> None:
        self._lock = threading.Lock()  # guards _raw only: the recording threads hold it for an append
        self._raw: list[tuple[bool, Client, Any]] = []  # (sent?, client, Sent or Message), in order
        self._raw_limit = 4 * keep  # past it, a recording thread processes: memory stays bounded unread
        self._work = threading.RLock()  # one reader processes at a time; guards everything below
        self._flows: deque[Flow] = deque(maxlen=keep)
        self._pending: dict[bytes, deque[_Pending]] = {}  # data -> sends that may have caused a receipt of it
        self._pending_order: deque[tuple[float, bytes, int]] = deque()  # (at, data, seq) of those sends, oldest first
        self._routes: OrderedDict[tuple[int, int], Route] = OrderedDict()
        self._sends: OrderedDict[tuple[str, int], SendRecord] = OrderedDict()
        self._lanes: dict[str, str] = {}  # trace key -> lane
        self._seq = 0
        self._total = 0
        self._listeners: list[Callable[[], None]] = []
        self.keep = keep
        self.clock = clock
        self.live = False
        self.clients: list[Client] = []
        for client in clients:
            self.watch(client)
        if live:
            self.start()

    def remembered_sends(self) -> int:
        """How many sends are still remembered to trace receipts back to (bounded by age and by count)."""
        self._process()
        with self._work:
            return len(self._pending_order)

    def watch(self, client: Client) -> None:
        """Trace a client's sends and receipts (from now on, and its latest ones before, once live)."""
        if client in self.clients:
            return
        self.clients.append(client)
        if self.live:
            self._follow(client)

    def start(self) -> None:
        """Go live: follow every client, starting with what each sent and received before."""
        if self.live:
            return
        self.live = True
        for client in self.clients:
            self._follow(client)

    def _follow(self, client: Client) -> None:
        inbox, sent = client.subscribe(on_message=self.record_received, on_send=self.record_sent)
        earlier = [(True, client, s) for s in sent[-self.keep :]] + [(False, client, m) for m in inbox[-self.keep :]]
        with self._lock:  # merged by time with what arrived since: a send is stamped before its frame leaves
            self._raw = sorted(earlier + self._raw, key=_stamp)
        if earlier:
            for listener in list(self._listeners):
                listener()

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when new traffic waits to be read (once until the next read; any thread)."""
        self._listeners.append(callback)

    @property
    def total(self) -> int:
        """How many flows were ever recorded (more than are remembered, after ``keep``)."""
        self._process()
        return self._total

    @property
    def flows(self) -> list[Flow]:
        """The remembered flows, oldest first."""
        self._process()
        with self._work:
            return list(self._flows)

    def flows_after(self, seq: int) -> list[Flow]:
        """The remembered flows recorded after ``seq``, oldest first."""
        self._process()
        with self._work:
            if not self._flows or self._flows[-1].seq <= seq:
                return []
            start = max(0, len(self._flows) - (self._flows[-1].seq - seq))
            return list(itertools.islice(self._flows, start, None))

    def route_of(self, client: Client, message: Message) -> Route:
        """How a received message got to ``client``: its route, or one read from the message alone."""
        if self._raw:  # (a glance without the lock: _process takes it)
            self._process()
        with self._work:
            route = self._routes.get((id(client), message.index))
            if route is not None:
                return route
            if message.cause is not None and message.cause.origin != "relay":  # from before this model watched
                return self._exact(client, message, message.cause)[1]
        return plain_route(message)

    # -- recording (the clients' threads) -------------------------------------------------

    def record_sent(self, client: Client, sent: Sent) -> None:
        """Note one sent event (a client's ``on_send`` callback, called before the frame leaves)."""
        self._note(True, client, sent)

    def record_received(self, client: Client, message: Message) -> None:
        """Note one received message (a client's ``on_message`` callback)."""
        self._note(False, client, message)

    def _note(self, sent: bool, client: Client, item: Any) -> None:
        with self._lock:
            self._raw.append((sent, client, item))
            waiting = len(self._raw)
        if waiting == 1:
            for listener in list(self._listeners):
                listener()
        elif waiting >= self._raw_limit:
            self._process()

    def _process(self) -> None:
        """Turn what was recorded into flows and routes, in recording order."""
        with self._work:
            with self._lock:
                raw, self._raw = self._raw, []
            for sent, client, item in raw:
                if sent:
                    self._sent(client, item)
                else:
                    self._received(client, item)

    # -- names -------------------------------------------------------------------------

    def _client_name(self, client_id: str) -> str | None:
        return next((c.name for c in self.clients if c.client_id == client_id), None)

    def _user_name(self, root_id: str) -> str | None:
        owners = [c for c in self.clients if c.root_id == root_id]
        emails = {c.email for c in owners if c.email}
        if len(emails) == 1:
            return emails.pop()
        return ", ".join(c.name for c in owners) or None

    def _targets(self, kind: str, ids: Iterable[Any]) -> str:
        names = []
        for raw in ids:
            value = str(raw)
            known = self._client_name(value) if kind == "client" else self._user_name(value) if kind == "user" else None
            names.append(known or (value if len(value) <= 24 else value[:10] + "…" + value[-6:]))
        return ", ".join(names)

    def _lane_of(self, cause: Cause) -> str:
        if cause.trace_key is not None and cause.trace_key in self._lanes:
            return self._lanes[cause.trace_key]
        client_id = cause.client_id or ""
        return self._client_name(client_id) or f"client …{client_id[-6:]}"

    # -- processing (whoever reads, under _work) --------------------------------------------

    def _sent(self, client: Client, sent: Sent) -> None:
        event = sent.event
        kind = str(event.get("type"))
        route, label, text = "", kind, as_json(event)
        pending = None
        if kind in ("user", "channel", "client"):
            ids = event.get(f"{kind}_ids") or event.get("root_ids") or []
            ids = ids if isinstance(ids, list) else []
            route = f"{kind} {self._targets(kind, ids)}"
            label = short_label(event.get("data"))
            pending = (orjson.dumps(event.get("data")), kind, route, tuple(str(i) for i in ids))
        elif kind == "walker":
            label = f"walker {event.get('walker')}"
        flow = self._add(
            client.name, SERVER, kind if kind in KINDS else "notification", label, route, sent.sent_at, text
        )
        if sent.connection is not None:
            self._lanes[sent.connection] = client.name
            self._sends[(sent.connection, sent.number)] = SendRecord(flow.seq, sent.sent_at, client.name, event)
            _trim(self._sends)
        if pending is not None:
            key, kind, route, targets = pending
            entry = _Pending(client.name, kind, route, sent.sent_at, flow.seq, targets)
            self._pending.setdefault(key, deque()).append(entry)
            self._pending_order.append((sent.sent_at, key, flow.seq))
            self._expire_pending(sent.sent_at - MATCH_WINDOW)

    def _expire_pending(self, horizon: float) -> None:
        """Forget sends older than ``horizon``, and the oldest beyond the bound."""
        order = self._pending_order
        while order and (order[0][0] < horizon or len(order) > MAX_REMEMBERED):
            _, key, seq = order.popleft()
            queue = self._pending.get(key)
            if queue and queue[0].seq == seq:  # else _match already dropped it
                queue.popleft()
            if queue is not None and not queue:
                del self._pending[key]

    def _received(self, client: Client, message: Message) -> None:
        cause = message.cause
        if cause is not None and cause.origin != "relay":
            flow_args, route = self._exact(client, message, cause)
        else:
            flow_args, route = self._inferred(client, message, cause)
        self._routes[(id(client), message.index)] = route
        _trim(self._routes)
        self._add(*flow_args)

    def _exact(self, client: Client, message: Message, cause: Cause) -> tuple[tuple[Any, ...], Route]:
        """A receipt whose server said why it was sent."""
        send = self._sends.get((cause.trace_key, cause.event or 0)) if cause.trace_key else None
        seq = send.seq if send else None
        latency = message.received_at - send.at if send else None
        text = as_json(message.data)
        kind = cause.route
        label = answer_label(message) if kind in ("connection", "response", "error") else short_label(message.data)
        addressed = f"{kind} {self._targets(kind, cause.targets)}" if cause.targets else kind
        if cause.origin == "client" and kind in ("channel", "user", "client"):
            source = self._lane_of(cause)
            return (source, client.name, kind, label, addressed, message.received_at, text, seq, latency), Route(
                kind, f"{addressed} · from {source}", source, latency
            )
        if cause.origin == "client":  # an answer to the receiving socket's own event, or to its connecting
            words = answer_words(kind, send)
        else:
            started = origin_words(cause, self._lane_of(cause) if cause.client_id else None)
            words = started if kind in ("response", "error") else f"{addressed} · {started}"
        return (SERVER, client.name, kind, label, words, message.received_at, text, seq, latency), Route(
            kind, words, SERVER, latency
        )

    def _inferred(self, client: Client, message: Message, cause: Cause | None) -> tuple[tuple[Any, ...], Route]:
        """A receipt with no exact cause (a server in another process): matched by its data."""
        text = as_json(message.data)
        at = message.received_at
        plain = plain_route(message)
        if plain.kind in ("connection", "response", "error"):
            return (SERVER, client.name, plain.kind, answer_label(message), plain.text, at, text), plain
        pending = self._match(client.name, message)
        if pending is None:
            kind = cause.route if cause is not None else "notification"
            words = "from another process" if cause is not None else "from the server"
            return (SERVER, client.name, kind, short_label(message.data), words, at, text), Route(kind, words)
        latency = at - pending.at
        route = Route(pending.kind, f"{pending.route} · from {pending.sender}", pending.sender, latency)
        args = (pending.sender, client.name, pending.kind, short_label(message.data), pending.route, at, text)
        return (*args, pending.seq, latency), route

    def _match(self, receiver: str, message: Message) -> _Pending | None:
        key = orjson.dumps(message.data)
        horizon = message.received_at - MATCH_WINDOW
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

    def _add(
        self,
        source: str,
        target: str,
        kind: str,
        label: str,
        route: str,
        at: float,
        text: str = "",
        cause: int | None = None,
        latency: float | None = None,
    ) -> Flow:
        self._seq += 1
        self._total += 1
        flow = Flow(self._seq, at, source, target, kind, label, route, cause, latency, text)
        self._flows.append(flow)
        return flow


def _stamp(recorded: tuple[bool, Client, Any]) -> float:
    sent, _, item = recorded
    return float(item.sent_at if sent else item.received_at)

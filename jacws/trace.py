"""Why each message was sent: causes the hub records for the simulated clients of its own process.

A simulated client (:mod:`jacws.client`) opens a :class:`ConnectionTrace` before it
connects and names it in an ``X-Jacws-Trace`` header. When the server runs in the same
process, the hub finds the trace by that key and, for every frame it queues to the
connection, appends the :class:`Cause` of that frame *before* the frame can leave; the
client takes one cause per frame it receives, in order. So every received message knows
exactly which event of which socket (or which walker run, REST call or server call)
caused it, whatever the thread timing. Keys are random and live in this process only: a
remote client cannot make the server record anything, and a server in another process
ignores the header (the playground then infers causes from the messages themselves).
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
from collections import deque
from typing import NamedTuple
from urllib.parse import urlsplit

__all__ = [
    "TRACE_HEADER",
    "Cause",
    "ConnectionTrace",
    "claim_trace",
    "close_trace",
    "find_trace",
    "may_trace",
    "open_trace",
]

TRACE_HEADER = "x-jacws-trace"
"""The handshake header naming a connection's trace key."""

ROUTES = ("connection", "response", "error", "channel", "user", "client", "self")
"""How a message was addressed, in the protocol's own words."""

ORIGINS = ("client", "walker", "rest", "server", "relay")
"""Who started it: a socket's own event, a socket's walker run, a REST walker call, the server, another process."""


class Cause(NamedTuple):
    """Why one message was sent to a connection (a tuple: cheap to build on the hub's hot path).

    Attributes:
        route: how it was addressed (one of :data:`ROUTES`).
        origin: who started it (one of :data:`ORIGINS`).
        client_id: the socket whose event started it (client and walker origins).
        trace_key: that socket's trace key, when it is a traced client of this process.
        event: which of that socket's frames started it (1 for its first frame).
        walker: the walker, for walker and rest origins.
        targets: the ids the message was addressed to (channel, root or client ids).
    """

    route: str
    origin: str
    client_id: str | None = None
    trace_key: str | None = None
    event: int | None = None
    walker: str | None = None
    targets: tuple[str, ...] = ()

    def with_route(self, route: str, targets: tuple[str, ...] = ()) -> Cause:
        """The same origin, addressed another way."""
        return self._replace(route=route, targets=targets)


MAX_IN_FLIGHT = 100_000
"""Causes a trace holds for frames not yet received; past it the trace gives up (the client infers causes)."""


class ConnectionTrace:
    """The causes of the frames queued to one traced connection, oldest first.

    The hub records (on its loop) before each frame can leave; the client takes one per
    frame received (on its own thread): deque appends and pops are atomic, so no lock.
    ``received`` counts the frames the hub got from the connection (the event numbers).
    One connection only: the first server connection to claim the key binds it.
    """

    __slots__ = ("bound", "broken", "causes", "key", "received")

    def __init__(self, key: str) -> None:
        self.key = key
        self.causes: deque[Cause | None] = deque()  # None: the server gave no reason (its own doing)
        self.received = 0
        self.bound = False
        self.broken = False

    def record(self, cause: Cause | None) -> None:
        """Note the cause of one frame about to be sent (the hub's side)."""
        if self.broken:
            return
        if len(self.causes) >= MAX_IN_FLIGHT:  # the client stopped reading: give up rather than grow
            self.broken = True
            self.causes.clear()
            return
        self.causes.append(cause)

    def next_cause(self) -> Cause | None:
        """The cause of the next frame received, if the server recorded one (the client's side)."""
        if self.broken:
            return None
        try:
            return self.causes.popleft()
        except IndexError:
            return None


_traces: dict[str, ConnectionTrace] = {}
_lock = threading.Lock()


def open_trace() -> ConnectionTrace:
    """A new trace under a fresh random key, findable by a server of this process."""
    trace = ConnectionTrace(secrets.token_hex(16))
    with _lock:
        _traces[trace.key] = trace
    return trace


def claim_trace(key: str) -> ConnectionTrace | None:
    """Bind the open trace of this key to the connection asking; None for unknown or already bound keys.

    A key therefore traces one connection only: a second connection naming it (a guess, or a
    key a remote server learnt from the header) is not traced and cannot touch the first one's.
    """
    with _lock:
        trace = _traces.get(key)
        if trace is None or trace.bound:
            return None
        trace.bound = True
        return trace


def find_trace(key: str) -> ConnectionTrace | None:
    """The open trace of this key (bound or not), or None."""
    with _lock:
        return _traces.get(key)


def close_trace(trace: ConnectionTrace) -> None:
    """Forget a trace (its connection is gone)."""
    with _lock:
        _traces.pop(trace.key, None)
    trace.causes.clear()


def may_trace(url: str) -> bool:
    """Whether a server at ``url`` may be given a trace key: only one on this machine can be ours."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

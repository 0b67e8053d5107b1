"""One client socket: its identity, its outbox and writer, its walker queue, and its close state machine.

A message goes straight to the socket when nothing is queued and the socket can take it
(:meth:`Transport.send_nowait`); otherwise it is queued and a writer task, started on demand and gone
when the queue is empty, sends it once the peer reads again. A connection moves from OPEN to CLOSING
to CLOSED and never back (:meth:`ConnectionState.check`).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .auth import Claims
from .errors import InternalError, InvalidTransition, RateLimited
from .protocol import PUBLIC_ROOT_ID, WalkerEvent, encode
from .ratelimit import budget_key
from .trace import Cause, ConnectionTrace

if TYPE_CHECKING:
    from .hub import Hub

__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_INTERNAL_ERROR",
    "CLOSE_POLICY",
    "Connection",
    "ConnectionState",
    "Transport",
]

log = logging.getLogger("jacws.hub")

CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_INTERNAL_ERROR = 1011


class Transport(Protocol):
    """The socket as the hub sees it.

    ``send_nowait`` is the fast path: write one text frame at once if the socket can take
    it without waiting, and say whether it did; None where the server offers no such path.
    ``abort`` drops the TCP connection at once (for a peer that will not read our close
    frame); None where the server offers no such thing. ``hold(seconds)`` stops reading the
    socket for that long (a publisher over its budget); None where it cannot.
    """

    send_nowait: Callable[[bytes], bool] | None
    abort: Callable[[], None] | None
    hold: Callable[[float], None] | None

    async def send(self, data: bytes) -> None:
        """Send one text frame (UTF-8 JSON); may wait while the peer is not reading."""

    async def close(self, code: int, reason: str = "") -> None:
        """Send a close frame with ``code``."""


class ConnectionState(enum.Enum):
    """A connection is OPEN until it starts closing; CLOSED once the hub forgot it. Never back."""

    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"

    def check(self, to: ConnectionState) -> ConnectionState:
        """``to``, if a connection in this state may move there.

        Raises:
            InvalidTransition: it may not (a closed connection reopening, say).
        """
        if to not in _NEXT[self]:
            raise InvalidTransition(f"a connection cannot go from {self.value} to {to.value}")
        return to


_NEXT = {
    ConnectionState.OPEN: frozenset({ConnectionState.CLOSING, ConnectionState.CLOSED}),
    ConnectionState.CLOSING: frozenset({ConnectionState.CLOSED}),
    ConnectionState.CLOSED: frozenset(),
}


class Connection:
    """One client socket: its identity, its bounded send queue and its writer.

    A message goes straight to the socket when nothing is queued and the socket can take
    it (``send_nowait``); otherwise it is queued and a writer task, started on demand and
    gone when the queue is empty, sends it once the peer reads again. An idle connection
    costs no task.
    """

    __slots__ = (
        "_closer",
        "_joined",
        "_last_limited",
        "_limited_since",
        "_outbox",
        "_outbox_bytes",
        "_progress_at",
        "_walker_events",
        "_walker_idle",
        "_walker_task",
        "_writer",
        "address",
        "budget",
        "channel_id",
        "claims",
        "client_id",
        "close_code",
        "hub",
        "joined_at",
        "offsets",
        "positions",
        "state",
        "trace",
        "transport",
    )

    def __init__(
        self,
        hub: Hub,
        transport: Transport,
        client_id: str,
        channel_id: str,
        claims: Claims | None,
        trace: ConnectionTrace | None = None,
        address: str = "",
    ) -> None:
        self.hub = hub
        self.address = address
        self.trace = trace
        self.transport = transport
        self.client_id = client_id
        self.channel_id = channel_id
        self._joined: list[str] | None = None  # every channel, once one was joined or left (None: channel_id only)
        self.offsets = False  # channel messages come as channel_message, with their offsets (?offsets=1)
        self.joined_at: dict[str, int] | None = None  # with offsets: each channel's last offset when it came on
        self.positions: dict[str, Any] | None = None  # with offsets and a shared history: where it is per channel
        self.claims = claims
        self.state = ConnectionState.OPEN
        self.close_code: int | None = None
        self._outbox: deque[bytes] = deque()
        self._outbox_bytes = 0
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._walker_events: deque[tuple[WalkerEvent, Cause | None]] = deque()
        self._walker_task: asyncio.Task[None] | None = None
        self._walker_idle: asyncio.Future[None] | None = None
        now = hub.clock()
        self.budget = hub.budgets.hold(budget_key(claims.root_id if claims else None, address), now)
        self._progress_at = now  # when the backlog last moved (a frame written from it)
        self._limited_since: float | None = None  # this socket's streak of dropped messages
        self._last_limited = 0.0

    @property
    def root_id(self) -> str:
        """The user's root id, or the public root for anonymous connections."""
        return self.claims.root_id if self.claims else PUBLIC_ROOT_ID

    @property
    def anonymous(self) -> bool:
        """Whether no user is logged in on this connection."""
        return self.claims is None

    @property
    def backlog(self) -> int:
        """Messages waiting to be written."""
        return len(self._outbox)

    @property
    def channels(self) -> tuple[str, ...] | list[str]:
        """Every channel the connection is on, in joining order: the connect-time one first, unless it was left."""
        joined = self._joined
        return (self.channel_id,) if joined is None else joined

    def set_channels(self, channels: list[str]) -> None:
        """Record the channels the connection is now on (the hub's members index them)."""
        self._joined = channels

    def info(self) -> dict[str, Any]:
        """The connection event's data: client, root and channel ids."""
        return {"client_id": self.client_id, "root_id": self.root_id, "channel_id": self.channel_id}

    def enqueue(self, data: bytes) -> None:
        """Send an already-serialised message, or queue it; closes the connection with 1008 on overflow."""
        if self.state is not ConnectionState.OPEN:
            return
        self.hub.metrics.messages_out += 1
        if self.trace is not None:  # before the frame can leave: the client takes one cause per frame
            self.trace.record(self.hub.cause)
        if self._writer is None:
            send_nowait = self.transport.send_nowait
            if send_nowait is not None and send_nowait(data):
                return
        limits = self.hub.limits
        if self._outbox_bytes + len(data) > limits.backlog_hard_bytes:
            self.hub.slow_consumer(self, f"backlog over {limits.backlog_hard_bytes} bytes")
            return
        self._outbox.append(data)
        self._outbox_bytes += len(data)
        self.hub.queued_bytes += len(data)  # what a publisher is charged for: the backlog it causes
        if self.over_backlog():
            self.hub.backlogged.add(self)  # it must keep reading: the hub's watch closes it if it stops
        if self._writer is None:
            self._progress_at = self.hub.clock()
            self._writer = asyncio.create_task(self._write(), name=f"jacws-writer-{self.client_id}")

    def admit(self) -> bool:
        """Take one incoming message from the sender's budget (its user's, or its address's, kept across
        reconnects); False (and maybe a close) if over it.

        This socket's drops less than ``rate_grace_seconds`` apart form one streak: its first drop is
        answered with ``rate_limited``; a streak older than the grace period closes it with 1008.
        """
        now = self.hub.clock()
        budget = self.budget
        if budget.messages.take(1, now):
            return True
        limits = self.hub.limits
        if self._limited_since is None or now - self._last_limited > limits.rate_grace_seconds:
            self._limited_since = now
            limit = f"{limits.rate_per_second:g} messages per second"
            self.send_message(RateLimited(f"too many messages: the limit is {limit}; message dropped").to_wire())
        elif now - self._limited_since > limits.rate_grace_seconds:
            self.close(CLOSE_POLICY, "rate limit exceeded")
        self._last_limited = now
        return False

    def charge(self, queued: int) -> None:
        """Count ``queued`` bytes (what this socket's message left waiting in its recipients' backlogs)
        against the sender's publish budget; over it, stop reading this socket until the budget refills
        (the flooder waits; its readers drain; no one else waits)."""
        wait = self.budget.queued_bytes.charge(queued, self.hub.clock())
        if wait > 0:
            hold = self.transport.hold
            if hold is not None:
                self.hub.metrics.publishers_held += 1
                hold(wait)

    def send_message(self, message: Any) -> None:
        """Serialise and queue one message for this connection only."""
        self.enqueue(encode(message))

    def close(self, code: int, reason: str = "") -> None:
        """Drop what is queued and close the socket with ``code`` (without waiting)."""
        if self.state is not ConnectionState.OPEN:
            return
        self.state = self.state.check(ConnectionState.CLOSING)
        self.close_code = code
        self.hub.metrics.closed(code)
        self._outbox.clear()
        self._outbox_bytes = 0
        if self._writer is not None:
            self._writer.cancel()
        self._walker_events.clear()
        self._closer = asyncio.create_task(self._send_close(code, reason), name=f"jacws-close-{self.client_id}")

    async def closed(self) -> None:
        """Wait until the close frame was handed to the transport (if one is being sent)."""
        if self._closer is not None:
            await asyncio.shield(self._closer)

    async def _send_close(self, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(self.transport.close(code, reason), self.hub.limits.close_timeout)
        except asyncio.TimeoutError:  # the peer does not read: not even our close frame
            abort = self.transport.abort
            if abort is not None:
                abort()
        except Exception:  # the peer is already gone
            log.debug("close of %s failed", self.client_id, exc_info=True)

    async def _write(self) -> None:
        outbox = self._outbox
        try:
            clock = self.hub.clock
            while outbox:
                data = outbox[0]
                await self.transport.send(data)
                outbox.popleft()
                self._outbox_bytes -= len(data)
                self._progress_at = clock()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.debug("writer of %s stopped: peer gone", self.client_id, exc_info=True)
            if self.state is ConnectionState.OPEN:
                self.state = self.state.check(ConnectionState.CLOSING)
        finally:
            self._writer = None

    def queue_walker(self, event: WalkerEvent) -> None:
        """Queue a walker event; over ``max_queued_walkers`` it is answered ``rate_limited``."""
        limit = self.hub.limits.max_queued_walkers
        if len(self._walker_events) >= limit:
            error = RateLimited(f"too many walker events waiting on this connection (the limit is {limit})")
            self.send_message(error.to_wire("walker", event.id))
            return
        cause = self.hub.cause  # the walker's answers and notifications are caused by this event
        if cause is not None:  # traced clients are on (else no cost)
            cause = Cause("response", "walker", cause.client_id, cause.trace_key, cause.event, event.walker)
        self._walker_events.append((event, cause))
        if self._walker_task is None:
            self._walker_task = asyncio.create_task(self._run_walkers(), name=f"jacws-walkers-{self.client_id}")
        elif self._walker_idle is not None and not self._walker_idle.done():
            self._walker_idle.set_result(None)

    async def _run_walkers(self) -> None:
        # One task per connection that calls walkers, parked on a future when idle: waking
        # it costs far less than creating a task per walker event.
        events = self._walker_events
        loop = asyncio.get_running_loop()
        while self.state is ConnectionState.OPEN:
            while events:
                event, cause = events.popleft()
                try:
                    await self.hub.run_walker_event(self, event, cause)  # the runner keeps the time limit
                except Exception:  # a bug of ours: answer it, log it, keep serving this connection
                    log.exception("walker event of %s failed", self.client_id)
                    internal = InternalError("internal error; see the server log").to_wire("walker", event.id)
                    self.hub.caused(cause and cause.with_route("error"), self.send_message, internal)
            self._walker_idle = loop.create_future()
            await self._walker_idle
            self._walker_idle = None

    def stop_walkers(self) -> None:
        """Drop the walker events waiting and cancel the one running (the server is shutting down)."""
        self._walker_events.clear()
        if self._walker_task is not None:
            self._walker_task.cancel()

    def over_backlog(self) -> bool:
        """Whether its backlog is past ``max_backlog_messages`` or ``max_backlog_bytes``."""
        limits = self.hub.limits
        return len(self._outbox) > limits.max_backlog_messages or self._outbox_bytes > limits.max_backlog_bytes

    @property
    def progress_at(self) -> float:
        """When a frame of its backlog was last written (hub clock)."""
        return self._progress_at

    def forget(self) -> None:
        """The hub forgot it (its socket is gone): CLOSED, writer and walker queue stopped."""
        if self.state is ConnectionState.CLOSED:
            return
        self.state = self.state.check(ConnectionState.CLOSED)
        if self._writer is not None:
            self._writer.cancel()
        self._walker_events.clear()
        if self._walker_idle is not None and not self._walker_idle.done():
            self._walker_idle.set_result(None)  # lets the walker task see CLOSED and end

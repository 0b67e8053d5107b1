"""Live connections, fan-out and the dispatch of client events.

The hub knows every open connection by client id, user root and channel. A message
for many connections is serialised once and *enqueued* to each (never awaited per
recipient); every connection drains its own bounded queue in its own writer task, so
a client that stops reading is closed with 1008 when its backlog overflows and slows
no one else. Sockets are reached only through the small :class:`Transport` interface.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .auth import Claims
from .errors import ClientError, Forbidden, InternalError, InvalidTarget, RateLimited, WalkerFailed
from .graph import GraphSession, Node
from .metrics import Metrics
from .protocol import (
    PUBLIC_ROOT_ID,
    ChangeUserEvent,
    ChannelEvent,
    ClientEvent,
    ConnectionEvent,
    Event,
    EventError,
    UserEvent,
    WalkerEvent,
    connection_message,
    encode,
    new_channel_id,
    new_client_id,
    normalize_node_id,
    parse_event,
    walker_response,
)
from .ratelimit import Budgets, budget_key
from .ratelog import LimitedLog
from .relays import LocalRelay, Relay, Relayed
from .stores import Store
from .trace import Cause, ConnectionTrace
from .walkers import WalkerRegistry, run_walker

__all__ = [
    "Connection",
    "ConnectionState",
    "Hub",
    "HubNotifier",
    "Limits",
    "PublishPolicy",
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


@dataclass(frozen=True)
class Limits:
    """Per-connection limits (PROTOCOL.md); the frame size is enforced by the transport.

    Incoming messages are rate limited by a token bucket (``rate_per_second`` sustained,
    ``rate_burst`` at once): a message over the limit is dropped and answered once with
    ``rate_limited``; a connection still over the limit ``rate_grace_seconds`` later is
    closed with 1008.

    The message and byte budgets belong to the sender (:mod:`jacws.ratelimit`): a logged-in user's
    sockets share one, an address's anonymous sockets another, kept across reconnects.

    ``max_connections`` caps this process's sockets (further handshakes get HTTP 503), and
    ``max_connections_per_address`` one client address's (HTTP 429);
    ``walker_timeout`` stops a walker that runs longer (``walker_error``);
    ``max_queued_walkers`` caps one connection's walker events waiting to run (``rate_limited``);
    ``max_rest_walkers`` caps the REST walker runs under way at once (``503``), and
    ``max_rest_walkers_per_user`` those of one user, or one anonymous address (``429``);
    ``close_timeout`` is how long a close frame may wait for a peer that does not read
    before the connection is dropped.

    Floods and slow readers: what a connection's ``user``, ``channel`` and ``client`` events leave
    waiting in their recipients' backlogs (bytes times the recipients that could not take them at
    once) is counted against ``publish_bytes_per_second`` (with ``publish_burst_bytes`` at once);
    past it, the server stops reading that socket until the budget refills, so a flooder is slowed
    and nothing is dropped, while traffic that readers keep up with costs nothing. A socket whose backlog passes
    ``max_backlog_messages`` or ``max_backlog_bytes`` is closed with 1008 only when nothing of it has
    been written for ``slow_consumer_seconds`` (a reader that keeps reading is never closed while a
    burst drains), or at once past ``backlog_hard_bytes``.

    Logins (:mod:`jacws.throttle`): after ``login_free_failures`` wrong passwords in a row an account
    waits 1 s before its next try, twice as long after each further failure, ``login_longest_wait``
    at most; an address with ``login_failures_per_address`` failures within ``login_window`` seconds
    waits too (``429`` with ``Retry-After``).

    HTTP requests (:mod:`jacws.httpguard`, :mod:`jacws.bodylimit`): ``max_body_bytes`` bounds a body
    (``413``), ``max_header_bytes`` a request's headers (``431``), ``header_timeout`` the time they may
    take to arrive (``408``); every TCP connection, HTTP or websocket, counts toward ``max_connections``.
    """

    max_frame_bytes: int = 1 << 20
    max_ids: int = 1000
    max_json_depth: int = 128
    max_backlog_messages: int = 1000
    max_backlog_bytes: int = 8 << 20
    rate_per_second: float = 1000
    rate_burst: int = 2000
    rate_grace_seconds: float = 1.0
    max_connections: int = 10_000
    max_connections_per_address: int = 256
    walker_timeout: float | None = 60.0
    max_queued_walkers: int = 100
    max_rest_walkers: int = 64
    max_rest_walkers_per_user: int = 4
    close_timeout: float = 3.0
    publish_bytes_per_second: float = 32 << 20
    publish_burst_bytes: int = 8 << 20
    slow_consumer_seconds: float = 5.0
    backlog_hard_bytes: int = 64 << 20
    login_free_failures: int = 5
    login_longest_wait: float = 900.0
    login_failures_per_address: int = 30
    login_window: float = 60.0
    max_body_bytes: int = 1 << 20
    max_header_bytes: int = 64 << 10
    header_timeout: float = 10.0


PolicyCallable = Callable[["Connection", UserEvent | ChannelEvent | ClientEvent], bool]
PublishPolicy = Literal["open", "authenticated"] | PolicyCallable


class ConnectionState(enum.Enum):
    """A connection is OPEN until it starts closing; CLOSED once the hub forgot it."""

    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class Connection:
    """One client socket: its identity, its bounded send queue and its writer.

    A message goes straight to the socket when nothing is queued and the socket can take
    it (``send_nowait``); otherwise it is queued and a writer task, started on demand and
    gone when the queue is empty, sends it once the peer reads again. An idle connection
    costs no task.
    """

    __slots__ = (
        "_closer",
        "_last_limited",
        "_limited_since",
        "_outbox",
        "_outbox_bytes",
        "_progress_at",
        "_timed_out",
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
        self._timed_out = False
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
        if len(self._outbox) > limits.max_backlog_messages or self._outbox_bytes > limits.max_backlog_bytes:
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
        self.state = ConnectionState.CLOSING
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
            self.state = ConnectionState.CLOSING
        finally:
            self._writer = None

    def _queue_walker(self, event: WalkerEvent) -> None:
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
        running = self.hub.running_walkers
        while self.state is ConnectionState.OPEN:
            while events:
                event, cause = events.popleft()
                error_cause = cause and cause.with_route("error")
                running[self] = loop.time()  # the hub's watchdog enforces the time limit
                try:
                    await self.hub.run_walker_event(self, event, cause)
                except asyncio.CancelledError:
                    if not self._timed_out:
                        raise
                    self._timed_out = False
                    _uncancel()
                    limit = f"{self.hub.limits.walker_timeout:g}"
                    error = WalkerFailed(f"walker {event.walker} failed: it timed out after {limit} s")
                    self.hub.caused(error_cause, self.send_message, error.to_wire("walker", event.id))
                except Exception:  # a bug of ours: answer it, log it, keep serving this connection
                    log.exception("walker event of %s failed", self.client_id)
                    internal = InternalError("internal error; see the server log").to_wire("walker", event.id)
                    self.hub.caused(error_cause, self.send_message, internal)
                finally:
                    running.pop(self, None)
            self._walker_idle = loop.create_future()
            await self._walker_idle
            self._walker_idle = None

    def _time_out(self) -> None:
        """Stop the walker running now: its task is cancelled and answers ``walker_error``."""
        if self._walker_task is not None and not self._timed_out:
            self._timed_out = True
            self._walker_task.cancel()

    def _forget(self) -> None:
        self.state = ConnectionState.CLOSED
        if self._writer is not None:
            self._writer.cancel()
        self._walker_events.clear()
        if self._walker_idle is not None and not self._walker_idle.done():
            self._walker_idle.set_result(None)  # lets the walker task see CLOSED and end


class Hub:
    """Every live connection of this process, and what to do with each client event.

    Args:
        store: users and graphs.
        registry: the walkers to serve.
        executor: where plain (sync) abilities run.
        authenticate: token text to claims, or None when missing or invalid.
        limits: per-connection limits.
        policy: who may publish ``user``, ``channel`` and ``client`` events.
        clock: monotonic seconds, for the rate limit.
        relay: carries deliveries to other processes (none by default).
    """

    def __init__(
        self,
        store: Store,
        registry: WalkerRegistry,
        executor: Executor,
        authenticate: Callable[[str | None], Claims | None],
        limits: Limits | None = None,
        policy: PublishPolicy = "open",
        clock: Callable[[], float] = time.monotonic,
        relay: Relay | None = None,
    ) -> None:
        self.clock = clock
        self.relay = relay or LocalRelay()
        self.relay.bind(self.on_relayed)
        self.on_revoked: Callable[[str], None] | None = None
        self.store = store
        self.registry = registry
        self.executor = executor
        self.authenticate = authenticate
        self.limits = limits or Limits()
        self.policy = policy
        self.connections: dict[str, Connection] = {}
        self.handshakes = 0  # handshakes in progress, counted against max_connections
        self.per_address: dict[str, int] = {}  # open sockets and handshakes of each client address
        limits = self.limits
        self.budgets = Budgets(
            limits.rate_per_second, limits.rate_burst, limits.publish_bytes_per_second, limits.publish_burst_bytes
        )
        self.running_walkers: dict[Connection, float] = {}  # when each connection's current walker started
        self._watchdog: asyncio.Task[None] | None = None
        self.backlogged: set[Connection] = set()  # connections over a backlog limit, watched for progress
        self.queued_bytes = 0  # bytes ever queued in backlogs (the difference around a delivery is its cost)
        self._backlog_watch: asyncio.Task[None] | None = None
        self.by_root: dict[str, dict[str, Connection]] = {}
        self.by_channel: dict[str, dict[str, Connection]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self.cause: Cause | None = None  # why the frames queued right now are sent (while traced clients are on)
        self.traced = 0  # connections of traced clients (jacws.trace)
        self.notifier = HubNotifier(self, None, Cause("response", "server"))
        self.metrics = Metrics(clock)
        self.warnings = LimitedLog(log)  # warnings clients can make repeat: one a second

    # -- connections ---------------------------------------------------------------

    def bind_loop(self) -> None:
        """Remember the running loop (notify calls from other threads are sent to it); start the watchdog."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        if self.limits.walker_timeout is not None and self._watchdog is None:
            self._watchdog = self._loop.create_task(self._watch_walkers(self.limits.walker_timeout))
        if self._backlog_watch is None:
            self._backlog_watch = self._loop.create_task(self._watch_backlogs())

    async def _watch_backlogs(self) -> None:
        # Every so often (a tenth of the grace, at most half a second): close the sockets over a backlog
        # limit that have not taken a frame for slow_consumer_seconds; forget those back under it.
        limits = self.limits
        grace = limits.slow_consumer_seconds
        period = min(0.5, max(0.02, grace / 10))
        while True:
            await asyncio.sleep(period)
            if not self.backlogged:
                continue
            now = self.clock()
            for conn in list(self.backlogged):
                over = len(conn._outbox) > limits.max_backlog_messages or conn._outbox_bytes > limits.max_backlog_bytes
                if conn.state is not ConnectionState.OPEN or not over:
                    self.backlogged.discard(conn)
                elif now - conn._progress_at > grace:
                    self.slow_consumer(conn, f"nothing read for {grace:g} s")

    def slow_consumer(self, conn: Connection, why: str) -> None:
        """Close ``conn`` with 1008 "slow consumer" (its backlog is dropped)."""
        self.backlogged.discard(conn)
        self.warnings.warning(
            "slow consumer",
            "closing slow consumer %s (%s; backlog %d messages)",
            conn.client_id,
            why,
            len(conn._outbox),
        )
        conn.close(CLOSE_POLICY, "slow consumer")

    async def _watch_walkers(self, limit: float) -> None:
        # One timer for the whole server instead of one per walker call: every so often, stop
        # the walkers that have run longer than the limit (precise to a quarter of it, at most 1 s).
        assert self._loop is not None
        period = min(1.0, max(0.02, limit / 4))
        while True:
            await asyncio.sleep(period)
            now = self._loop.time()
            for conn, started in list(self.running_walkers.items()):
                if now - started > limit:
                    conn._time_out()

    def connect(
        self,
        transport: Transport,
        claims: Claims | None,
        channel_id: str | None = None,
        trace: ConnectionTrace | None = None,
        address: str = "",
    ) -> Connection:
        """Register a new connection from ``address`` (the client's) and queue its connection event;
        ``trace`` records why each frame is sent."""
        if self._loop is None:
            self.bind_loop()
        conn = Connection(self, transport, new_client_id(), channel_id or new_channel_id(), claims, trace, address)
        self.connections[conn.client_id] = conn
        self.by_root.setdefault(conn.root_id, {})[conn.client_id] = conn
        self.by_channel.setdefault(conn.channel_id, {})[conn.client_id] = conn
        cause = None
        if trace is not None:
            self.traced += 1
            cause = Cause("connection", "client", conn.client_id, trace.key, 0)
        self.caused(cause, conn.send_message, connection_message(**conn.info()))
        return conn

    def disconnect(self, conn: Connection) -> None:
        """Forget a connection whose socket is gone."""
        if self.connections.pop(conn.client_id, None) is None:
            return
        if conn.trace is not None:
            self.traced -= 1
        _discard(self.by_root, conn.root_id, conn.client_id)
        _discard(self.by_channel, conn.channel_id, conn.client_id)
        self.backlogged.discard(conn)
        self.budgets.release(conn.budget)
        conn._forget()

    @property
    def full(self) -> bool:
        """Whether open sockets and handshakes in progress have reached ``max_connections``."""
        return len(self.connections) + self.handshakes >= self.limits.max_connections

    def arrive(self, address: str) -> bool:
        """Count a socket from ``address`` toward ``max_connections_per_address``; False (counting nothing)
        when that address has reached it. Every True is followed by one :meth:`leave`."""
        here = self.per_address.get(address, 0)
        if here >= self.limits.max_connections_per_address:
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

    def _set_claims(self, conn: Connection, claims: Claims | None) -> None:
        _discard(self.by_root, conn.root_id, conn.client_id)
        conn.claims = claims
        self.by_root.setdefault(conn.root_id, {})[conn.client_id] = conn
        conn.send_message(connection_message(**conn.info()))

    def revoke(self, jti: str) -> int:
        """Make every connection logged in with token ``jti`` anonymous, on every process; return how many here."""
        self.relay.publish("revoke", (jti,), b"")
        return self.revoke_local(jti)

    def expire(self, now: float) -> int:
        """Make connections whose token expired before ``now`` anonymous (with a fresh connection event)."""
        hits = [c for c in self.connections.values() if c.claims is not None and c.claims.expires_at <= now]
        for conn in hits:
            self._set_claims(conn, None)
        return len(hits)

    def revoke_local(self, jti: str) -> int:
        """Make this process's connections logged in with token ``jti`` anonymous; return how many."""
        hits = [c for c in self.connections.values() if c.claims is not None and c.claims.jti == jti]
        for conn in hits:
            self._set_claims(conn, None)
        return len(hits)

    def snapshot(self) -> dict[str, Any]:
        """Connections, channel membership and online users, as plain data (call on the loop)."""
        return {
            "connections": [
                {**c.info(), "user": c.claims.email if c.claims else None, "backlog": c.backlog}
                for c in self.connections.values()
            ],
            "channels": {channel: list(members) for channel, members in self.by_channel.items()},
            "users": {root: list(members) for root, members in self.by_root.items() if root != PUBLIC_ROOT_ID},
        }

    def read_metrics(self) -> dict[str, Any]:
        """The live numbers (:class:`~jacws.metrics.Metrics`), as plain data (call on the loop)."""
        users = len(self.by_root) - (PUBLIC_ROOT_ID in self.by_root)
        return self.metrics.read((c.backlog for c in self.connections.values()), self.by_channel, users)

    async def close_all(
        self, code: int = CLOSE_GOING_AWAY, reason: str = "server shutdown", timeout: float = 5
    ) -> None:
        """Close every connection with ``code`` and wait (up to ``timeout``) for the close frames."""
        for task in (self._watchdog, self._backlog_watch):
            if task is not None:
                task.cancel()
        self._watchdog = self._backlog_watch = None
        conns = list(self.connections.values())
        for conn in conns:
            conn.close(code, reason)
            if conn._walker_task is not None:
                conn._walker_task.cancel()
        waits = [asyncio.ensure_future(c.closed()) for c in conns]
        if waits:
            await asyncio.wait(waits, timeout=timeout)

    # -- client frames --------------------------------------------------------------

    def handle_frame(self, conn: Connection, frame: str | bytes) -> None:
        """Parse and dispatch one client frame; errors are answered on the connection."""
        self.metrics.messages_in += 1
        if self.traced:  # what this frame makes the hub send is caused by it (answers are errors until parsed)
            trace = conn.trace
            key = number = None
            if trace is not None:
                trace.received += 1
                key, number = trace.key, trace.received
            self.cause = Cause("error", "client", conn.client_id, key, number)
        try:
            if not conn.admit():
                return
            try:
                event = parse_event(frame, self.limits.max_ids, self.limits.max_json_depth)
            except EventError as error:
                conn.send_message(error.to_wire())
                return
            try:
                self.dispatch(conn, event)
            except ClientError as error:
                if self.cause is not None:
                    self.cause = self.cause.with_route("error")
                conn.send_message(error.to_wire())
            except Exception:  # a bug of ours, or of a policy callable: never the traceback, never the connection
                log.exception("event of %s failed", conn.client_id)
                if self.cause is not None:
                    self.cause = self.cause.with_route("error")
                conn.send_message(InternalError("internal error; see the server log").to_wire())
        finally:
            self.cause = None

    def dispatch(self, conn: Connection, event: Event) -> None:
        """Carry out one parsed client event.

        Raises:
            Forbidden: the publish policy refuses the event.
        """
        cause = self.cause
        if isinstance(event, ChannelEvent):
            self._check_policy(conn, event)
            if cause is not None:
                self.cause = cause.with_route("channel", tuple(event.channel_ids))
            before = self.queued_bytes
            self.deliver_channels(event.channel_ids, encode(event.data))
            conn.charge(self.queued_bytes - before)
        elif isinstance(event, WalkerEvent):
            conn._queue_walker(event)
        elif isinstance(event, UserEvent):
            self._check_policy(conn, event)
            if cause is not None:
                self.cause = cause.with_route("user", tuple(event.root_ids))
            before = self.queued_bytes
            self.deliver_users(event.root_ids, encode(event.data))
            conn.charge(self.queued_bytes - before)
        elif isinstance(event, ClientEvent):
            self._check_policy(conn, event)
            if cause is not None:
                self.cause = cause.with_route("client", tuple(event.client_ids))
            before = self.queued_bytes
            self.deliver_clients(event.client_ids, encode(event.data))
            conn.charge(self.queued_bytes - before)
        elif isinstance(event, ConnectionEvent):
            if cause is not None:
                self.cause = cause.with_route("connection")
            conn.send_message(connection_message(**conn.info()))
        elif isinstance(event, ChangeUserEvent):
            if cause is not None:
                self.cause = cause.with_route("connection")
            self._set_claims(conn, self.authenticate(event.token))

    def caused(self, cause: Cause | None, send: Callable[..., Any], *args: Any) -> None:
        """Call ``send(*args)`` (which queues frames) with ``cause`` as the reason traced clients are told."""
        previous, self.cause = self.cause, cause
        try:
            send(*args)
        finally:
            self.cause = previous

    def _check_policy(self, conn: Connection, event: UserEvent | ChannelEvent | ClientEvent) -> None:
        if isinstance(event, UserEvent) and PUBLIC_ROOT_ID in event.root_ids:
            raise Forbidden("user events to the public root are refused: they would reach every anonymous client")
        policy = self.policy
        if policy == "open":
            return
        if policy == "authenticated":
            if conn.anonymous:
                raise Forbidden("anonymous connections may not publish; log in with change_user")
            return
        if callable(policy) and not policy(conn, event):
            raise Forbidden("the server's publish policy refused this event")

    async def run_walker_event(self, conn: Connection, event: WalkerEvent, cause: Cause | None = None) -> None:
        """Run one walker event for ``conn`` and answer it (response or error); ``cause`` names the event."""
        try:
            cls = self.registry.for_socket(event.walker, conn.anonymous)
            session = GraphSession(self.store, conn.root_id)
            notifier = HubNotifier(self, conn, cause)
            started = self.clock()
            try:
                walked = functools.partial(self.running_walkers.pop, conn, None)  # the watchdog stops timing it
                reports = await run_walker(
                    cls, event.context, session, notifier, self.executor, event.node, on_walked=walked
                )
            finally:
                notifier.active = False  # an ability still running after a timeout notifies no one
                self.metrics.walker_ran(self.clock() - started)
        except ClientError as error:
            if cause is None:
                conn.send_message(error.to_wire("walker", event.id))
            else:
                self.caused(cause.with_route("error"), conn.send_message, error.to_wire("walker", event.id))
            return
        if event.response:
            if cause is None:
                conn.send_message(walker_response(reports, event.id))
            else:
                self.caused(cause, conn.send_message, walker_response(reports, event.id))

    # -- fan-out --------------------------------------------------------------------

    def _user_targets(self, root_ids: Iterable[str]) -> dict[str, Connection]:
        targets: dict[str, Connection] = {}
        for root_id in root_ids:
            targets.update(self.by_root.get(root_id, {}))
        return targets

    def _channel_targets(self, channel_ids: Iterable[str]) -> dict[str, Connection]:
        targets: dict[str, Connection] = {}
        for channel_id in channel_ids:
            targets.update(self.by_channel.get(channel_id, {}))
        return targets

    def _client_targets(self, client_ids: Iterable[str]) -> dict[str, Connection]:
        connections = self.connections
        return {cid: connections[cid] for cid in client_ids if cid in connections}

    def deliver(self, targets: dict[str, Connection], data: bytes) -> int:
        """Send (or queue) ``data`` once to each open target, never waiting on one; return how many took it.

        Sockets that are closing are skipped, as ``websockets.broadcast`` does; one whose transport raises
        is closed with 1011 and logged, and the others still get the message.
        """
        sent = 0
        for conn in targets.values():
            if conn.state is not ConnectionState.OPEN:
                continue
            try:
                conn.enqueue(data)
            except Exception:
                self._broken(conn)
            else:
                sent += 1
        return sent

    def _broken(self, conn: Connection) -> None:
        """``conn``'s transport raised while taking a message: close it, log it (once a second at most)."""
        why = "closing %s: its transport failed to take a message"
        self.warnings.warning("broken socket", why, conn.client_id, exc_info=True)
        try:
            conn.close(CLOSE_INTERNAL_ERROR, "internal error")
        except Exception:  # its close would fail the same way: drop it
            self.disconnect(conn)

    def deliver_users(self, root_ids: Sequence[str], data: bytes) -> int:
        """Send serialised ``data`` to every connection of these users, here and on other processes."""
        self.relay.publish("user", root_ids, data)
        return self.deliver(self._user_targets(root_ids), data)

    def deliver_channels(self, channel_ids: Sequence[str], data: bytes) -> int:
        """Send serialised ``data`` to every connection on these channels, here and on other processes."""
        self.relay.publish("channel", channel_ids, data)
        return self.deliver(self._channel_targets(channel_ids), data)

    def deliver_clients(self, client_ids: Sequence[str], data: bytes) -> int:
        """Send serialised ``data`` to these connections, wherever they are."""
        local = self._client_targets(client_ids)
        if len(local) < len(client_ids):  # the others may be connected to other processes
            self.relay.publish("client", client_ids, data)
        return self.deliver(local, data)

    def on_relayed(self, message: Relayed) -> None:
        """Deliver a message another process relayed, to this process's connections only."""
        targets = {"user": self._user_targets, "channel": self._channel_targets, "client": self._client_targets}
        find = targets.get(message.kind)
        if find is not None:
            cause = Cause(message.kind, "relay", targets=message.ids) if self.traced else None
            self.caused(cause, self.deliver, find(message.ids), message.data)
        elif message.kind == "revoke":
            for jti in message.ids:
                self.revoke_local(jti)
                if self.on_revoked is not None:
                    self.on_revoked(jti)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the hub's loop: at once on its thread, else scheduled in order."""
        if self._loop_thread == threading.get_ident() or self._loop is None:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)


def _uncancel() -> None:
    """Clear the cancellation a walker timeout used, so the task goes on (Python 3.11+ counts them)."""
    task = asyncio.current_task()
    uncancel = getattr(task, "uncancel", None)
    if uncancel is not None:
        uncancel()


def _discard(index: dict[str, dict[str, Connection]], key: str, client_id: str) -> None:
    members = index.get(key)
    if members is not None:
        members.pop(client_id, None)
        if not members:
            del index[key]


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

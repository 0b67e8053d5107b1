"""Live connections by client, user and channel; the dispatch of client events; fan-out and relaying.

The hub knows every open connection by client id, user root and channel. A message
for many connections is serialised once and *enqueued* to each (never awaited per
recipient); every connection drains its own bounded queue in its own writer task, so
a client that stops reading is closed with 1008 when its backlog overflows and slows
no one else. Sockets are reached only through the small :class:`Transport` interface.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

from .auth import Claims
from .connection import (
    CLOSE_GOING_AWAY,
    CLOSE_INTERNAL_ERROR,
    CLOSE_POLICY,
    Connection,
    ConnectionState,
    Transport,
)
from .errors import ClientError, EventError, InternalError
from .history import ChannelHistory
from .members import Members
from .metrics import Metrics
from .notify import HubNotifier
from .policy import check_policy
from .protocol import (
    PUBLIC_ROOT_ID,
    ChangeUserEvent,
    ChannelEvent,
    ClientEvent,
    ConnectionEvent,
    Event,
    JoinEvent,
    LeaveEvent,
    PresenceEvent,
    RecoverEvent,
    UserEvent,
    WalkerEvent,
    connection_message,
    encode,
    new_channel_id,
    new_client_id,
    parse_event,
    walker_response,
)
from .ratelimit import Budgets
from .ratelog import LimitedLog
from .relays import LocalRelay, Relay, Relayed
from .rooms import Rooms
from .runner import Runner
from .settings import Limits, PublishPolicy
from .stores import Store
from .trace import Cause, ConnectionTrace
from .walkers import WalkerRegistry
from .watchdog import watch_backlogs

__all__ = ["Hub"]

log = logging.getLogger("jacws.hub")


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
        self.runner = Runner(registry, store, executor, self.limits.walker_timeout)
        self.policy = policy
        interest = self.relay.interest if self.relay.routes_by_interest else None
        self.members = Members(self.limits.max_connections_per_address, interest)
        self.connections = self.members.connections  # the same dicts, never replaced
        self.by_root = self.members.by_root
        self.by_channel = self.members.by_channel
        self.handshakes = 0  # handshakes in progress, counted against max_connections
        limits = self.limits
        self.budgets = Budgets(
            limits.rate_per_second, limits.rate_burst, limits.publish_bytes_per_second, limits.publish_burst_bytes
        )
        self.backlogged: set[Connection] = set()  # connections over a backlog limit, watched for progress
        self.queued_bytes = 0  # bytes ever queued in backlogs (the difference around a delivery is its cost)
        self._backlog_watch: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self.cause: Cause | None = None  # why the frames queued right now are sent (while traced clients are on)
        self.traced = 0  # connections of traced clients (jacws.trace)
        self.notifier = HubNotifier(self, None, Cause("response", "server"))
        self.metrics = Metrics(clock)
        self.history = ChannelHistory(self.limits.history_size, self.limits.history_seconds, clock)
        self.rooms = Rooms(self)
        self.warnings = LimitedLog(log)  # warnings clients can make repeat: one a second

    # -- connections ---------------------------------------------------------------

    def bind_loop(self) -> None:
        """Remember the running loop (notify calls from other threads are sent to it); start the watchdog."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        if self._backlog_watch is None:
            self._backlog_watch = self._loop.create_task(watch_backlogs(self))

    def slow_consumer(self, conn: Connection, why: str) -> None:
        """Close ``conn`` with 1008 "slow consumer" (its backlog is dropped)."""
        self.backlogged.discard(conn)
        self.warnings.warning(
            "slow consumer",
            "closing slow consumer %s (%s; backlog %d messages)",
            conn.client_id,
            why,
            conn.backlog,
        )
        conn.close(CLOSE_POLICY, "slow consumer")

    def connect(
        self,
        transport: Transport,
        claims: Claims | None,
        channel_id: str | None = None,
        trace: ConnectionTrace | None = None,
        address: str = "",
        client_id: str | None = None,
        offsets: bool = False,
    ) -> Connection:
        """Register a new connection from ``address`` (the client's) and queue its connection event;
        ``trace`` records why each frame is sent."""
        if self._loop is None:
            self.bind_loop()
        channel_id = channel_id or new_channel_id()
        conn = Connection(self, transport, client_id or new_client_id(), channel_id, claims, trace, address)
        conn.offsets = offsets
        self.members.add(conn)
        cause = None
        if trace is not None:
            self.traced += 1
            cause = Cause("connection", "client", conn.client_id, trace.key, 0)
        self.caused(cause, conn.send_message, connection_message(**conn.info()))
        return conn

    def disconnect(self, conn: Connection) -> None:
        """Forget a connection whose socket is gone."""
        if not self.members.remove(conn):
            return
        if conn.trace is not None:
            self.traced -= 1
        self.backlogged.discard(conn)
        self.budgets.release(conn.budget)
        conn.forget()

    @property
    def full(self) -> bool:
        """Whether open sockets and handshakes in progress have reached ``max_connections``."""
        return len(self.connections) + self.handshakes >= self.limits.max_connections

    def arrive(self, address: str) -> bool:
        """Count a socket from ``address`` toward ``max_connections_per_address`` (see :meth:`Members.arrive`)."""
        return self.members.arrive(address)

    def leave(self, address: str) -> None:
        """A socket counted by :meth:`arrive` is gone."""
        self.members.leave(address)

    def _set_claims(self, conn: Connection, claims: Claims | None) -> None:
        self.members.unindex_user(conn)
        conn.claims = claims
        self.members.index_user(conn)
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
        if self._backlog_watch is not None:
            self._backlog_watch.cancel()
            self._backlog_watch = None
        self.rooms.stop()
        conns = list(self.connections.values())
        for conn in conns:
            conn.close(code, reason)
            conn.stop_walkers()
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
            check_policy(self.policy, conn, event)
            if cause is not None:
                self.cause = cause.with_route("channel", tuple(event.channel_ids))
            before = self.queued_bytes
            self.deliver_channels(event.channel_ids, encode(event.data))
            conn.charge(self.queued_bytes - before)
        elif isinstance(event, WalkerEvent):
            conn.queue_walker(event)
        elif isinstance(event, UserEvent):
            check_policy(self.policy, conn, event)
            if cause is not None:
                self.cause = cause.with_route("user", tuple(event.root_ids))
            before = self.queued_bytes
            self.deliver_users(event.root_ids, encode(event.data))
            conn.charge(self.queued_bytes - before)
        elif isinstance(event, ClientEvent):
            check_policy(self.policy, conn, event)
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
        elif isinstance(event, RecoverEvent):
            if cause is not None:
                self.cause = cause.with_route("response")
            self.rooms.recover(conn, event, self.cause)
        elif isinstance(event, PresenceEvent):
            check_policy(self.policy, conn, event)
            if cause is not None:
                self.cause = cause.with_route("response")
            self.rooms.presence(conn, event, self.cause)
        elif isinstance(event, JoinEvent | LeaveEvent):
            if isinstance(event, JoinEvent) and event.presence:
                check_policy(self.policy, conn, event)
            if cause is not None:
                self.cause = cause.with_route("response")
            self.rooms.move(conn, event, self.cause)

    def caused(self, cause: Cause | None, send: Callable[..., Any], *args: Any) -> None:
        """Call ``send(*args)`` (which queues frames) with ``cause`` as the reason traced clients are told."""
        previous, self.cause = self.cause, cause
        try:
            send(*args)
        finally:
            self.cause = previous

    async def run_walker_event(self, conn: Connection, event: WalkerEvent, cause: Cause | None = None) -> None:
        """Run one walker event for ``conn`` and answer it (response or error); ``cause`` names the event."""
        try:
            cls = self.runner.walker_for(event.walker, "websocket", conn.anonymous)
            notifier = HubNotifier(self, conn, cause)
            started = self.clock()
            try:
                reports = await self.runner.run(cls, event.context, conn.root_id, notifier, event.node)
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
        return self.deliver(self.members.of_users(root_ids), data)

    def deliver_channels(self, channel_ids: Sequence[str], data: bytes) -> int:
        """Send serialised ``data`` to every connection on these channels, here and on other processes."""
        self.relay.publish("channel", channel_ids, data)
        return self.rooms.deliver(channel_ids, data)

    def deliver_clients(self, client_ids: Sequence[str], data: bytes) -> int:
        """Send serialised ``data`` to these connections, wherever they are."""
        local = self.members.with_ids(client_ids)
        if len(local) < len(client_ids):  # the others may be connected to other processes
            self.relay.publish("client", client_ids, data)
        return self.deliver(local, data)

    def on_relayed(self, message: Relayed) -> None:
        """Deliver a message another process relayed, to this process's connections only."""
        members = self.members
        targets = {"user": members.of_users, "client": members.with_ids}
        find = targets.get(message.kind)
        if message.kind == "channel":
            cause = Cause(message.kind, "relay", targets=message.ids) if self.traced else None
            deliver = self.rooms.deliver_numbered if message.offset else self.rooms.deliver_relayed
            self.caused(cause, deliver, message)
        elif find is not None:
            cause = Cause(message.kind, "relay", targets=message.ids) if self.traced else None
            self.caused(cause, self.deliver, find(message.ids), message.data)
        elif message.kind == "presence":
            for channel_id in message.ids:
                self.rooms.tell(channel_id, message.data)
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

"""The Redis pub/sub relay, routed by interest: each process receives only what its members need.

Every jacws channel, user and client has a Redis pub/sub channel of its own (``jacws:{c:<id>}``,
``jacws:{u:<root id>}``, ``jacws:{k:<client id>}``). A process is subscribed to the ones with a member
on it, from the first member's arrival to the last one's departure, and to ``jacws:ctl`` (revocations);
a message is published once to each of its targets' Redis channels, so a process with no member of
them receives nothing of it. A message with several targets on one process arrives there once per
target and is delivered once (copies are recognised by their origin and number).

Delivery across processes is at most once: a message published while Redis is unreachable is
dropped and counted (local delivery goes on regardless). Publishing never blocks the event loop:
messages go to a queue bounded by count and bytes, drained in order by one publisher task (one
pipeline per batch). A listener task runs subscription sessions: each subscribes to everything its
members need (it says it is connected once Redis confirmed them all), then reads, follows the members'
comings and goings and pings Redis every second, until any of the three fails, for whatever reason, a
Redis that stops answering without closing the connection included; then the next session starts after
an exponential backoff (0.1 s doubling up to 1 s). Unlike jac-cloud's listener, it never dies silently.

On a Redis Cluster the same channels are sharded channels (SPUBLISH and SSUBSCRIBE, each served by the primary of
its slot; see :mod:`.redis_links`): a message travels only to that primary and the processes subscribed there.

Presence and the numbered channel history, which every process shares, are in :mod:`.redis_state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from .base import Relay, Relayed, decode_relayed, encode_relayed
from .redis_links import Links, connect, open_links
from .redis_state import OPERATION_TIMEOUT, AnyPipeline, SharedState

__all__ = ["RedisRelay"]

log = logging.getLogger("jacws.relay")

PREFIX = "jacws"
MAX_PENDING = 10_000
"""Messages waiting to be published, at most (more are dropped and counted)."""
MAX_PENDING_BYTES = 64 << 20
"""Bytes waiting to be published, at most."""
BATCH = 256
"""Messages published in one pipeline, at most."""
MAX_SEEN = 10_000
"""Recent multi-target messages remembered to deliver each once."""
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 1.0
PROBE_EVERY = 1.0
"""Seconds between pings on the subscription connection (each must be answered within OPERATION_TIMEOUT)."""
PROBE = b"jacws-probe"
READY_TIMEOUT = 2.0
"""Seconds a new member waits for its subscriptions before it is served anyway."""

_CODES = {"channel": "c", "user": "u", "client": "k", "watch": "w"}


class RedisRelay(SharedState, Relay):
    """Relays through Redis pub/sub, one Redis channel per jacws channel, user and client.

    Args:
        url: ``redis://HOST:PORT[/DB]``, of a single Redis or of any node of a Redis Cluster.
        origin: this process's id (random by default).
        prefix: the start of every Redis channel name of one deployment.
    """

    routes_by_interest = True
    shares_presence = True

    def __init__(
        self,
        url: str,
        origin: str | None = None,
        prefix: str = PREFIX,
        presence_timeout: float = 20.0,
        history_size: int = 0,
        history_seconds: float = 300.0,
    ) -> None:
        super().__init__(origin)
        self.presence_timeout = presence_timeout
        self.history_size = history_size
        self.history_seconds = history_seconds
        self.shares_history = history_size > 0
        self.url = url
        self.prefix = prefix
        self.control = f"{prefix}:ctl"
        self.connected = False
        self.sharded = False  # the Redis is a cluster (known once first reached)
        self.published = 0
        self.received_messages = 0
        self.received_bytes = 0
        self.dropped = 0
        self.reconnects = 0
        self._numbers = itertools.count(1)
        self._pending: deque[tuple[int, Callable[[AnyPipeline], object]]] = deque()  # (bytes, queue the command)
        self._pending_bytes = 0
        self._wake = asyncio.Event()
        self._wanted: dict[bytes, int] = {}  # Redis channel -> members here (and new members waiting for it)
        self._changed: set[bytes] = set()  # wanted-ness changed since the listener last subscribed
        self._change = asyncio.Event()
        self._subscribed: set[bytes] = set()  # confirmed by Redis in the current session
        self._waiters: list[tuple[frozenset[bytes], asyncio.Future[None]]] = []
        self._up = asyncio.Event()
        self._backoff = BACKOFF_FIRST
        self._ever_connected = False
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: aioredis.Redis | RedisCluster | None = None  # made by the first session that reaches Redis

    # -- names -------------------------------------------------------------------------------

    def topic(self, kind: str, key: str) -> bytes:
        """The Redis channel of one jacws channel, user or client."""
        return f"{self.prefix}:{{{_CODES[kind]}:{key}}}".encode()  # the braces: a cluster hashes what is inside

    # -- interest ----------------------------------------------------------------------------

    def interest(self, kind: str, key: str, wanted: bool) -> None:
        """A member of ``kind`` ``key`` arrived on this process (the first) or left it (the last)."""
        topic = self.topic(kind, key)
        count = self._wanted.get(topic, 0) + (1 if wanted else -1)
        if count > 0:
            self._wanted[topic] = count
            if count == 1:
                self._note(topic)
        else:
            self._wanted.pop(topic, None)
            self._note(topic)

    def _note(self, topic: bytes) -> None:
        self._changed.add(topic)
        self._change.set()

    async def hold(self, keys: Iterable[tuple[str, str]]) -> Callable[[], None]:
        """Want ``keys`` now and wait (``READY_TIMEOUT`` at most, not at all during an outage) until Redis
        confirms them; the returned call lets go of this hold (the members it was for hold their own)."""
        keys = list(keys)
        for kind, key in keys:
            self.interest(kind, key, True)
        topics = frozenset(self.topic(kind, key) for kind, key in keys)
        if self.connected and not topics <= self._subscribed:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append((topics, waiter))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiter), READY_TIMEOUT)

        def release() -> None:
            for kind, key in keys:
                self.interest(kind, key, False)

        return release

    def _settle_waiters(self) -> None:
        if not self._waiters:
            return
        still: list[tuple[frozenset[bytes], asyncio.Future[None]]] = []
        for topics, waiter in self._waiters:
            if waiter.done():
                continue
            if topics <= self._subscribed or not self.connected:
                waiter.set_result(None)
            else:
                still.append((topics, waiter))
        self._waiters = still

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, wait: float = 2.0) -> None:
        """Start the listener and publisher; wait up to ``wait`` seconds for the first subscription.

        A Redis that is down at start-up is not an error: the relay keeps retrying and
        ``/healthz`` says it is disconnected.
        """
        self._tasks = [
            asyncio.create_task(self._listen(), name="jacws-relay-listener"),
            asyncio.create_task(self._publish_loop(), name="jacws-relay-publisher"),
            asyncio.create_task(self._heartbeat(), name="jacws-relay-heartbeat"),
        ]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._up.wait(), wait)

    async def stop(self) -> None:
        """Cancel the tasks and close the connections."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()

    # -- publishing --------------------------------------------------------------------------

    def publish(self, kind: str, ids: Sequence[str], data: bytes) -> None:
        """Queue a delivery for the processes with members of ``ids``; dropped (and counted) during an outage
        or when the queue is full."""
        if kind == "revoke":
            topics: tuple[bytes, ...] = (self.control.encode(),)
        elif kind == "presence":  # to the processes with a member watching those channels
            topics = tuple(self.topic("watch", key) for key in ids)
        elif kind == "channel" and self.shares_history:
            self._publish_numbered(ids, data)
            return
        else:
            topics = tuple(self.topic(kind, key) for key in ids)
        payload = encode_relayed(Relayed(kind, tuple(ids), data, self.origin, next(self._numbers)))
        sharded = self.sharded

        def command(pipe: AnyPipeline) -> None:
            send = pipe.spublish if sharded else pipe.publish
            for topic in topics:
                send(topic, payload)

        self._queue(len(payload) * len(topics), command)

    def _queue(self, size: int, command: Callable[[AnyPipeline], object]) -> None:
        if not self.connected or len(self._pending) >= MAX_PENDING or self._pending_bytes + size > MAX_PENDING_BYTES:
            self.dropped += 1
            return
        self._pending.append((size, command))
        self._pending_bytes += size
        self._wake.set()

    async def _publish_loop(self) -> None:
        pending = self._pending
        while True:
            await self._wake.wait()
            self._wake.clear()
            while pending:
                batch = [pending[i] for i in range(min(BATCH, len(pending)))]
                if not await self._publish_batch(batch):
                    # The listener decides when Redis is back; until then publish() drops.
                    self.dropped += len(pending)
                    pending.clear()
                    self._pending_bytes = 0
                    log.warning("relay publish failed; %d messages dropped so far", self.dropped)
                    break
                for size, _ in batch:
                    pending.popleft()
                    self._pending_bytes -= size
                self.published += len(batch)

    async def _publish_batch(self, batch: list[tuple[int, Callable[[AnyPipeline], object]]]) -> bool:
        client = self._client
        assert client is not None
        for _ in range(2):  # a pooled connection may be stale after an outage: one retry on a fresh one
            try:
                pipe = client.pipeline(transaction=False)
                for _, command in batch:
                    command(pipe)
                await asyncio.wait_for(pipe.execute(), OPERATION_TIMEOUT)
                return True
            except (RedisError, OSError, asyncio.TimeoutError) as error:
                log.debug("relay publish failed: %r", error)
        return False

    # -- listening ---------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Run subscription sessions one after another, forever: whatever ends one (an error of Redis or
        of the client library, a silent connection, a bug) is logged, and the next starts after a backoff."""
        while True:
            try:
                await self._session()
                why = "the subscription ended"
            except asyncio.CancelledError:
                cancelling = getattr(asyncio.current_task(), "cancelling", None)  # Python 3.11+
                if cancelling is None or cancelling():  # stop() (or the loop's shutdown) cancelled us
                    raise
                why = "cancelled inside the Redis client"
            except (RedisError, OSError) as error:
                why = f"subscription lost: {type(error).__name__}: {error}"
            except Exception as error:  # a bug: say where, and go on relaying
                log.exception("relay subscription failed unexpectedly")
                why = f"unexpected {type(error).__name__}"
            self._lost(why)
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._backoff * 2, BACKOFF_MAX)

    async def _session(self) -> None:
        """One subscription session: subscribe to every wanted topic, then read each link, follow interest
        changes and probe Redis concurrently until one of them ends (each ends only by an error)."""
        if self._client is None:
            self._client = await connect(self.url, OPERATION_TIMEOUT)
            self.sharded = isinstance(self._client, RedisCluster)
        links = await open_links(self._client, self.url, OPERATION_TIMEOUT)
        tasks: list[asyncio.Task[None]] = []
        try:
            self._subscribed = set()
            self._changed.clear()
            self._change.clear()
            for pubsub in links.pubsubs.values():
                await asyncio.wait_for(pubsub.connect(), OPERATION_TIMEOUT)  # type: ignore[no-untyped-call]
            topics = frozenset([self.control.encode(), *self._wanted])
            await links.subscribe(topics, OPERATION_TIMEOUT)
            for pubsub in links.pubsubs.values():
                answered = asyncio.Event()
                tasks.append(
                    asyncio.create_task(self._read(pubsub, links, topics, answered), name="jacws-relay-reader")
                )
                tasks.append(asyncio.create_task(self._probe(pubsub, answered), name="jacws-relay-probe"))
            tasks.append(asyncio.create_task(self._sync(links), name="jacws-relay-subscriber"))
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.cancelled():
                    raise ConnectionError(f"{task.get_name()} was cancelled")
                error = task.exception()
                if error is not None:
                    raise error
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=OPERATION_TIMEOUT)
            await links.aclose(OPERATION_TIMEOUT)

    async def _read(self, pubsub: PubSub, links: Links, topics: frozenset[bytes], answered: asyncio.Event) -> None:
        """Handle what Redis sends on one link; say connected once every topic of the session's start is
        confirmed (on every link)."""
        while True:
            message = await pubsub.get_message(timeout=None)
            if message is None:  # a keepalive of the client library
                continue
            kind = message.get("type")
            if kind == "message" or kind == "smessage":
                self._message(message["channel"], message["data"])
            elif kind == "pong":
                answered.set()
            elif kind == "subscribe" or kind == "ssubscribe":
                self._subscribed.add(message["channel"])
                if not self.connected and topics <= self._subscribed:
                    self._now_connected()
                self._settle_waiters()
            elif kind == "unsubscribe" or kind == "sunsubscribe":
                topic = message["channel"]
                self._subscribed.discard(topic)
                if not links.expected_unsubscribe(topic):
                    raise ConnectionError(f"Redis dropped the subscription to {topic!r} (its slot moved)")

    def _now_connected(self) -> None:
        self.connected = True  # every member's subscription is back: say so
        self._up.set()
        self._backoff = BACKOFF_FIRST
        if self._ever_connected:
            self.reconnects += 1
            log.warning("relay reconnected to Redis")
        self._ever_connected = True

    async def _probe(self, pubsub: PubSub, answered: asyncio.Event) -> None:
        """Ping Redis on one link every ``PROBE_EVERY`` seconds: a Redis that stops answering (a stalled
        server, a network that drops packets without closing the connection) is noticed within
        ``OPERATION_TIMEOUT`` of a ping, where a read alone would wait forever."""
        while True:
            answered.clear()
            await asyncio.wait_for(pubsub.ping(PROBE), OPERATION_TIMEOUT)
            try:
                await asyncio.wait_for(answered.wait(), OPERATION_TIMEOUT)
            except asyncio.TimeoutError:
                raise ConnectionError(f"Redis did not answer a ping within {OPERATION_TIMEOUT} s") from None
            await asyncio.sleep(PROBE_EVERY)

    async def _sync(self, links: Links) -> None:
        """Subscribe to what members arriving need, and unsubscribe from what the last ones leaving needed."""
        while True:
            await self._change.wait()
            self._change.clear()
            changed, self._changed = self._changed, set()
            await links.subscribe([topic for topic in changed if topic in self._wanted], OPERATION_TIMEOUT)
            await links.unsubscribe([topic for topic in changed if topic not in self._wanted], OPERATION_TIMEOUT)

    def _message(self, channel: bytes, payload: bytes) -> None:
        control = channel == self.control.encode()
        if not control:
            self.received_messages += 1
            self.received_bytes += len(payload)
        try:
            relayed = decode_relayed(payload)
        except ValueError:
            log.warning("ignored a malformed relay message")
            return
        if relayed.offset:  # a numbered copy: every copy counts (each numbers one channel), ours too
            if self._deliver is not None:
                try:
                    self._deliver(relayed)
                except Exception:
                    log.exception("relayed message could not be delivered")
            return
        if len(relayed.ids) > 1 and relayed.kind != "revoke":  # it came once per target this process has
            key = (relayed.origin, relayed.number)
            if key in self._seen:
                return
            self._seen[key] = None
            if len(self._seen) > MAX_SEEN:
                self._seen.popitem(last=False)
        try:
            self.received(relayed)
        except Exception:  # a delivery bug must not end the subscription
            log.exception("relayed message could not be delivered")

    def _lost(self, why: str) -> None:
        if self.connected:
            log.warning("relay disconnected from Redis (%s); local delivery goes on", why)
        self.connected = False
        self._up.clear()
        self._settle_waiters()  # nobody waits for a subscription during an outage

    # -- status ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Connection state and counters for ``/healthz``; ``received_*`` count traffic for this
        process's members (revocations and Redis's own keepalives are not counted)."""
        return {
            "kind": "redis",
            "connected": self.connected,
            "sharded": self.sharded,
            "published": self.published,
            "received": self.received_messages,
            "received_messages": self.received_messages,
            "received_bytes": self.received_bytes,
            "subscriptions": len(self._subscribed - {self.control.encode()}),
            "dropped": self.dropped,
            "reconnects": self.reconnects,
            "pending": len(self._pending),
            "pending_bytes": self._pending_bytes,
        }

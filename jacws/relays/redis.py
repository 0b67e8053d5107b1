"""The Redis pub/sub relay: deliveries shared by every jacws process subscribed to one Redis.

Delivery across processes is at most once: a message published while Redis is
unreachable is dropped and counted (local delivery goes on regardless). Publishing
never blocks the event loop: messages go to a bounded in-memory queue drained by one
publisher task, which keeps each process's messages in order. A listener task
subscribes, and after any error reconnects with exponential backoff (0.1 s doubling up
to 1 s), so cross-process delivery resumes within about a second of Redis coming back;
unlike jac-cloud's listener, it never dies silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from .base import Relay, Relayed, decode_relayed, encode_relayed

__all__ = ["RedisRelay"]

log = logging.getLogger("jacws.relay")

CHANNEL = "jacws:relay"
MAX_PENDING = 10_000
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 1.0
OPERATION_TIMEOUT = 2.0


class RedisRelay(Relay):
    """Relays through Redis pub/sub on one channel.

    Args:
        url: ``redis://HOST:PORT[/DB]``.
        origin: this process's id (random by default).
        channel: the pub/sub channel every process of one deployment shares.
    """

    def __init__(self, url: str, origin: str | None = None, channel: str = CHANNEL) -> None:
        super().__init__(origin)
        self.url = url
        self.channel = channel
        self.connected = False
        self.published = 0
        self.received_count = 0
        self.dropped = 0
        self.reconnects = 0
        self._pending: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._subscribed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: aioredis.Redis | None = None

    async def start(self, wait: float = 2.0) -> None:
        """Start the listener and publisher; wait up to ``wait`` seconds for the first subscription.

        A Redis that is down at start-up is not an error: the relay keeps retrying and
        ``/healthz`` says it is disconnected.
        """
        self._client = aioredis.Redis.from_url(
            self.url,
            socket_connect_timeout=OPERATION_TIMEOUT,
            socket_timeout=OPERATION_TIMEOUT,
            health_check_interval=5,
            retry_on_timeout=False,
            retry=Retry(NoBackoff(), 0),  # no hidden retries: our loops notice an outage at once and reconnect
        )
        self._tasks = [
            asyncio.create_task(self._listen(), name="jacws-relay-listener"),
            asyncio.create_task(self._publish_loop(), name="jacws-relay-publisher"),
        ]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), wait)

    def publish(self, kind: str, ids: Sequence[str], data: bytes) -> None:
        """Queue a delivery for the other processes; dropped (and counted) during an outage."""
        if not self.connected or len(self._pending) >= MAX_PENDING:
            self.dropped += 1
            return
        self._pending.append(encode_relayed(Relayed(kind, tuple(ids), data, self.origin)))
        self._wake.set()

    async def _publish_loop(self) -> None:
        pending = self._pending
        while True:
            await self._wake.wait()
            self._wake.clear()
            while pending:
                if not await self._publish_one(pending[0]):
                    # The listener decides when Redis is back; until then publish() drops.
                    self.dropped += len(pending)
                    pending.clear()
                    log.warning("relay publish failed; %d messages dropped so far", self.dropped)
                    break
                pending.popleft()
                self.published += 1

    async def _publish_one(self, payload: bytes) -> bool:
        client = self._client
        assert client is not None
        for _ in range(2):  # a pooled connection may be stale after an outage: one retry on a fresh one
            try:
                await asyncio.wait_for(client.publish(self.channel, payload), OPERATION_TIMEOUT)
                return True
            except (RedisError, OSError, asyncio.TimeoutError) as error:
                log.debug("relay publish failed: %r", error)
        return False

    async def _listen(self) -> None:
        backoff = BACKOFF_FIRST
        first = True
        while True:
            client = self._client
            assert client is not None
            pubsub = client.pubsub()
            try:
                await asyncio.wait_for(pubsub.subscribe(self.channel), OPERATION_TIMEOUT)
                if not first:
                    self.reconnects += 1
                    log.warning("relay reconnected to Redis")
                first = False
                self.connected = True
                self._subscribed.set()
                backoff = BACKOFF_FIRST
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    self.received_count += 1
                    try:
                        relayed = decode_relayed(message["data"])
                    except ValueError:
                        log.warning("ignored a malformed relay message")
                        continue
                    try:
                        self.received(relayed)
                    except Exception:  # a delivery bug must not end the subscription
                        log.exception("relayed message could not be delivered")
                raise ConnectionError("subscription ended")
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, asyncio.TimeoutError) as error:
                self._lost(f"subscription lost: {error!r}")
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pubsub.aclose(), OPERATION_TIMEOUT)  # type: ignore[no-untyped-call]
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    def _lost(self, why: str) -> None:
        if self.connected:
            log.warning("relay disconnected from Redis (%s); local delivery goes on", why)
        self.connected = False
        self._subscribed.clear()

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

    def status(self) -> dict[str, Any]:
        """Connection state and counters for ``/healthz``."""
        return {
            "kind": "redis",
            "connected": self.connected,
            "published": self.published,
            "received": self.received_count,
            "dropped": self.dropped,
            "reconnects": self.reconnects,
            "pending": len(self._pending),
        }

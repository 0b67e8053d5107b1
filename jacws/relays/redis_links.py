"""Where a Redis relay's subscriptions live: one connection to a single Redis, or, on a Redis Cluster, one per
primary, each carrying the sharded channels (SSUBSCRIBE) of the slots that primary serves.

A :class:`Links` is one session's view of the topology. A topic is routed to a link by its hash slot; a topic
whose slot is served by a primary the session does not know, a ``MOVED`` answer or a sharded channel Redis
unsubscribes on its own (its slot moved) ends the session, and the next one starts from a fresh slot map.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import ConnectionPool, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

__all__ = ["CHUNK", "Links", "connect", "open_links"]

CHUNK = 1000
"""Redis channels named in one (S)SUBSCRIBE or (S)UNSUBSCRIBE command, at most."""


def _options(timeout: float) -> dict[str, Any]:
    return {
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),  # no hidden retries: the relay's loops notice an outage and reconnect
    }


async def connect(url: str, timeout: float) -> aioredis.Redis | RedisCluster:
    """A client of the Redis at ``url``: a cluster client when that Redis has cluster mode on.

    Raises:
        RedisError, OSError: Redis cannot be asked.
    """
    plain = aioredis.Redis.from_url(url, health_check_interval=5, retry_on_timeout=False, **_options(timeout))
    try:
        info = await asyncio.wait_for(plain.info("cluster"), timeout)
    except BaseException:
        await plain.aclose()
        raise
    if not info.get("cluster_enabled"):
        return plain
    await plain.aclose()
    nodes = urlsplit(url)._replace(path="").geturl()  # (a cluster has database 0 only: no /DB part)
    cluster = RedisCluster.from_url(nodes, **_options(timeout))
    try:
        await asyncio.wait_for(cluster.initialize(), timeout)
    except BaseException:
        await cluster.aclose()
        raise
    return cluster


class Links:
    """One session's subscription connections, and which carries each topic."""

    def __init__(
        self,
        sharded: bool,
        pubsubs: dict[str, PubSub],
        route: Callable[[bytes], tuple[str, int]],
        clients: list[aioredis.Redis],
    ) -> None:
        self.sharded = sharded
        self.pubsubs = pubsubs
        self._route = route
        self._clients = clients
        self.leaving: dict[bytes, int] = {}  # unsubscribes sent and not yet confirmed, per topic

    def link(self, topic: bytes) -> PubSub:
        """The connection ``topic`` is subscribed on.

        Raises:
            ConnectionError: the topic's slot is on a primary this session did not connect to.
        """
        name, _ = self._route(topic)
        pubsub = self.pubsubs.get(name)
        if pubsub is None:
            raise ConnectionError(f"the cluster's slot map changed ({name} is new)")
        return pubsub

    def _grouped(self, topics: Iterable[bytes]) -> dict[tuple[PubSub, int], list[bytes]]:
        """Topics by link and, on a cluster, by hash slot (one sharded command names channels of one slot)."""
        groups: dict[tuple[PubSub, int], list[bytes]] = {}
        for topic in topics:
            _, slot = self._route(topic)
            groups.setdefault((self.link(topic), slot), []).append(topic)
        return groups

    async def subscribe(self, topics: Iterable[bytes], timeout: float) -> None:
        """Ask each link for its topics (confirmations arrive as ``subscribe``/``ssubscribe`` messages)."""
        for (pubsub, _), group in self._grouped(topics).items():
            for start in range(0, len(group), CHUNK):
                chunk = group[start : start + CHUNK]
                command = pubsub.ssubscribe(*chunk) if self.sharded else pubsub.subscribe(*chunk)
                await asyncio.wait_for(command, timeout)

    async def unsubscribe(self, topics: Iterable[bytes], timeout: float) -> None:
        """Let go of ``topics``; each confirmation is expected (see :meth:`expected_unsubscribe`)."""
        for (pubsub, _), group in self._grouped(topics).items():
            for topic in group:
                self.leaving[topic] = self.leaving.get(topic, 0) + 1
            for start in range(0, len(group), CHUNK):
                chunk = group[start : start + CHUNK]
                command = pubsub.sunsubscribe(*chunk) if self.sharded else pubsub.unsubscribe(*chunk)
                await asyncio.wait_for(command, timeout)

    def expected_unsubscribe(self, topic: bytes) -> bool:
        """Whether an unsubscribe confirmation answers ours (else Redis dropped the subscription itself)."""
        count = self.leaving.get(topic, 0)
        if count <= 1:
            self.leaving.pop(topic, None)
        else:
            self.leaving[topic] = count - 1
        return count > 0

    async def aclose(self, timeout: float) -> None:
        """Close every connection of the session (never raises)."""
        for pubsub in self.pubsubs.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pubsub.aclose(), timeout)
        for client in self._clients:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), timeout)


async def open_links(client: aioredis.Redis | RedisCluster, url: str, timeout: float) -> Links:
    """The links of a new session: the client's own pub/sub, or one client per primary of the cluster's
    current slot map (refreshed first)."""
    if not isinstance(client, RedisCluster):
        return Links(False, {"": client.pubsub()}, lambda topic: ("", 0), [])
    await asyncio.wait_for(client.nodes_manager.initialize(), timeout)
    settings = {**parse_url(url), **_options(timeout), "db": 0}
    pubsubs: dict[str, PubSub] = {}
    clients: list[aioredis.Redis] = []
    for node in client.get_primaries():
        pool = ConnectionPool(**{**settings, "host": node.host, "port": node.port})
        node_client = aioredis.Redis.from_pool(pool)
        clients.append(node_client)
        pubsubs[node.name] = node_client.pubsub()
    manager = client.nodes_manager

    def route(topic: bytes) -> tuple[str, int]:
        slot = client.keyslot(topic)
        return str(manager.get_node_from_slot(slot).name), slot

    return Links(True, pubsubs, route, clients)

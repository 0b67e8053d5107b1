"""What Redis keeps for every process of a deployment, beside the relay's pub/sub: channel members (presence)
and numbered channel history (recovery).

Presence: one Redis hash per channel (``jacws:p:<channel>``: client id to root id and process); each process
refreshes a key of its own (``jacws:proc:<origin>``) every third of ``presence_timeout``; members of a process
whose key expired (it crashed) are left out of answers and removed by the first process that notices.

History: a channel message is numbered by one script per target channel, which increments the channel's offset
(``jacws:{c:<channel>}:o``), adds the message to the channel's stream (``jacws:{c:<channel>}:h``, about
``history_size`` entries, kept ``history_seconds`` after the last one) and publishes the copy with its offset on
the channel's Redis channel (``jacws:{c:<channel>}``); the three names share a hash tag, so on a Redis Cluster
they live on one primary, where the script runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.exceptions import RedisError

__all__ = ["OPERATION_TIMEOUT", "AnyPipeline", "SharedState"]

log = logging.getLogger("jacws.relay")

OPERATION_TIMEOUT = 2.0

AnyPipeline = Pipeline | ClusterPipeline

_STAMP = """
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], n .. '-1', 'd', ARGV[2], 't', ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call(ARGV[6], KEYS[3], ARGV[1] .. n .. '}\\n' .. ARGV[2])
return n
"""
"""Number a channel message, keep it in the channel's stream and publish it with its offset, in one step."""


class SharedState:
    """Presence and numbered history for :class:`~jacws.relays.redis.RedisRelay` (which gives the client, the
    names and the ordered publish queue)."""

    prefix: str
    origin: str
    connected: bool
    sharded: bool
    presence_timeout: float
    history_size: int
    history_seconds: float
    _client: aioredis.Redis | RedisCluster | None
    _up: asyncio.Event  # set while connected
    _numbers: itertools.count[int]

    def topic(self, kind: str, key: str) -> bytes:
        raise NotImplementedError  # the relay's

    def _queue(self, size: int, command: Callable[[AnyPipeline], object]) -> None:
        raise NotImplementedError  # the relay's

    # -- history -------------------------------------------------------------------------

    def _offset_key(self, channel_id: str) -> str:
        return f"{self.prefix}:{{c:{channel_id}}}:o"  # the channel's Redis channel's hash tag (see topic())

    def _history_key(self, channel_id: str) -> str:
        return f"{self.prefix}:{{c:{channel_id}}}:h"

    def _publish_numbered(self, ids: Sequence[str], data: bytes) -> None:
        """One copy per channel, numbered in Redis (see the module's docstring)."""
        number = next(self._numbers)
        head = orjson.dumps({"k": "channel", "i": list(ids), "o": self.origin, "n": number})[:-1]
        ttl = max(1, math.ceil(self.history_seconds)) + 5
        for channel_id in ids:
            prefix = head + b',"c":' + orjson.dumps(channel_id) + b',"f":'
            keys = (self._offset_key(channel_id), self._history_key(channel_id), self.topic("channel", channel_id))
            args = (prefix, data, self.history_size, ttl, repr(time.time()), "SPUBLISH" if self.sharded else "PUBLISH")

            def command(pipe: AnyPipeline, keys: tuple[Any, ...] = keys, args: tuple[Any, ...] = args) -> None:
                pipe.eval(_STAMP, 3, *keys, *args)

            self._queue(2 * len(data) + len(prefix), command)

    async def history_between(
        self, channel_id: str, since: int, until: int | None
    ) -> tuple[list[tuple[int, bytes]], int, bool]:
        """The channel's kept messages after ``since`` up to ``until`` (None: the latest), the offset reached,
        and whether none was missing (False too while Redis is unreachable)."""
        client = self._client
        if client is None or not self.connected:
            return [], since, False
        try:
            latest = int(await asyncio.wait_for(client.get(self._offset_key(channel_id)), OPERATION_TIMEOUT) or 0)
            if since > latest:  # offsets from before the channel's history was forgotten
                return [], latest, False
            end = latest if until is None else min(until, latest)
            if end <= since:
                return [], max(end, since), True
            entries = await asyncio.wait_for(
                client.xrange(self._history_key(channel_id), f"{since + 1}-1", f"{end}-1"), OPERATION_TIMEOUT
            )
        except (RedisError, OSError, asyncio.TimeoutError):
            return [], since, False
        horizon = time.time() - self.history_seconds
        found: list[tuple[int, bytes]] = []
        for entry_id, fields in entries or ():
            if isinstance(entry_id, bytes) and fields and float(fields.get(b"t", 0)) >= horizon:
                data = fields[b"d"]
                found.append((int(entry_id.split(b"-")[0]), data if isinstance(data, bytes) else data.encode()))
        return found, end, len(found) == end - since

    # -- presence ----------------------------------------------------------------------------

    def _members_key(self, channel_id: str) -> str:
        return f"{self.prefix}:p:{channel_id}"

    def _process_key(self, origin: str) -> str:
        return f"{self.prefix}:proc:{origin}"

    def presence_added(self, channel_id: str, client_id: str, root_id: str) -> None:
        """Keep a member of this process where the others see it (in order with this process's messages)."""
        value = orjson.dumps({"r": root_id, "o": self.origin})
        key = self._members_key(channel_id)
        self._queue(len(value), lambda pipe: pipe.hset(key, client_id, value))

    def presence_removed(self, channel_id: str, client_id: str) -> None:
        """Forget a member of this process."""
        key = self._members_key(channel_id)
        self._queue(len(client_id), lambda pipe: pipe.hdel(key, client_id))

    async def _members(self, channel_id: str) -> tuple[dict[str, dict[str, str]], set[str]]:
        """Every member kept for a channel (client id to root id and process), and the processes alive."""
        client = self._client
        assert client is not None
        raw = await asyncio.wait_for(client.hgetall(self._members_key(channel_id)), OPERATION_TIMEOUT)
        members: dict[str, dict[str, str]] = {}
        for field, value in raw.items():
            with contextlib.suppress(orjson.JSONDecodeError, TypeError, KeyError):
                entry = orjson.loads(value)
                name = field.decode() if isinstance(field, bytes) else str(field)
                members[name] = {"root_id": str(entry["r"]), "origin": str(entry["o"])}
        origins = sorted({m["origin"] for m in members.values()} - {self.origin})
        alive = {self.origin}
        if origins:
            found = await asyncio.wait_for(_alive(client, origins, self._process_key), OPERATION_TIMEOUT)
            alive |= found
        return members, alive

    async def presence_members(self, channel_id: str) -> list[dict[str, str]]:
        """The channel's members on the other live processes; none while Redis is unreachable."""
        if not self.connected:
            return []
        try:
            members, alive = await self._members(channel_id)
        except (RedisError, OSError, asyncio.TimeoutError):
            return []
        return [
            {"client_id": client_id, "root_id": entry["root_id"]}
            for client_id, entry in members.items()
            if entry["origin"] in alive and entry["origin"] != self.origin
        ]

    async def presence_sweep(self, channel_ids: Iterable[str]) -> list[tuple[str, str, str]]:
        """Remove, on these channels, the members of processes whose key expired; those this process removed."""
        client = self._client
        if client is None or not self.connected:
            return []
        gone: list[tuple[str, str, str]] = []
        try:
            for channel_id in channel_ids:
                members, alive = await self._members(channel_id)
                for client_id, entry in members.items():
                    if entry["origin"] in alive:
                        continue
                    removed = await asyncio.wait_for(
                        client.hdel(self._members_key(channel_id), client_id), OPERATION_TIMEOUT
                    )
                    if removed:  # another process may have been first: only one tells the channel
                        gone.append((channel_id, client_id, entry["root_id"]))
        except (RedisError, OSError, asyncio.TimeoutError) as error:
            log.debug("presence sweep failed: %r", error)
        return gone

    async def _heartbeat(self) -> None:
        """Say this process is alive (its members count in presence answers) every third of the timeout."""
        key = self._process_key(self.origin)
        ttl = max(1, round(self.presence_timeout))
        while True:
            await self._up.wait()  # (the client is made once Redis is first reached)
            client = self._client
            assert client is not None
            with contextlib.suppress(RedisError, OSError, asyncio.TimeoutError):
                await asyncio.wait_for(client.set(key, b"1", ex=ttl), OPERATION_TIMEOUT)
            await asyncio.sleep(self.presence_timeout / 3)


async def _alive(client: aioredis.Redis | RedisCluster, origins: list[str], key: Callable[[str], str]) -> set[str]:
    """Which of ``origins`` have their process key (refreshed while the process lives)."""
    pipe = client.pipeline(transaction=False)
    for origin in origins:
        pipe.exists(key(origin))
    answers = await pipe.execute()
    return {origin for origin, found in zip(origins, answers, strict=True) if found}

"""Relayed fan-out: one channel's subscribers on two jacws processes sharing a real redis-server, beside the
same subscribers on one process; and what the relay brings a third process that has members of another
channel only (with interest routing: nothing).

Command: ``python bench/relay.py`` (``--subscribers``, ``--events``; ``--cluster`` relays through a three-primary
Redis Cluster with sharded pub/sub instead of one Redis). There is no bare-``websockets`` baseline for a relay; the
comparison is one process against two, in the same run. Needs ``redis-server`` (and for ``--cluster``
``redis-cli``) on the PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "tests"))
from run import ServerProcess, Workers, fanout_subscribers, percentile, publish_until, split
from services import RedisClusterServers
from wsclient import open_client

from jacws.localredis import LocalRedis

HOST = "127.0.0.1"


def relay_status(server: ServerProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{HOST}:{server.port}/healthz", timeout=5) as response:
        status: dict[str, Any] = orjson.loads(response.read())["relay"] or {}
    return status


async def idle_members(port: int, channel: str, count: int, seconds: float, results: Any, go: Any) -> dict[str, Any]:
    """(A load worker) ``count`` members of ``channel``, connected ``seconds``, ignoring what they get."""
    path = f"/websocket?channel_id={channel}"
    clients = [await open_client(HOST, port, path, lambda c, p: None) for _ in range(count)]
    results.put(("ready", count))
    await asyncio.sleep(seconds)
    for client in clients:
        client.close()
    return {}


def fan_out(
    publish_on: ServerProcess, subscribe_on: list[ServerProcess], subscribers: int, events: int
) -> dict[str, Any]:
    """``subscribers`` on one channel, spread over ``subscribe_on``; one publisher on ``publish_on``."""
    channel = "busy-room"
    shares = split(subscribers, len(subscribe_on))
    workers = Workers(
        fanout_subscribers,
        [(server.port, n, events, channel, 0, 0) for server, n in zip(subscribe_on, shares, strict=True)],
    )
    workers.start()
    start, _, done = asyncio.run(publish_until(workers.finish, publish_on.port, events, channel, 0))
    received = sum(d["received"] for d in done)
    last = max(d["last"] for d in done)
    latencies = [x for d in done for x in d["latencies"]]
    return {
        "delivered_per_s": received / (last - start) if last > start else 0.0,
        "delivered": received,
        "loss": subscribers * events - received,
        "duplicates": sum(d["duplicates"] for d in done),
        "reordered": sum(d["disorder"] for d in done),
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


@contextlib.contextmanager
def redis_url(cluster: bool) -> Iterator[str]:
    """A throwaway Redis (or Redis Cluster) for the run; its URL."""
    if not cluster:
        with LocalRedis() as redis:
            yield redis.url
        return
    with tempfile.TemporaryDirectory(prefix="jacws-bench-cluster-") as folder:
        servers = RedisClusterServers(Path(folder)).start()
        try:
            yield servers.url
        finally:
            servers.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--cluster", action="store_true", help="relay through a three-primary Redis Cluster")
    args = parser.parse_args()
    through = "a 3-primary Redis Cluster" if args.cluster else "one Redis"
    print(f"jacws relay benchmark · {args.subscribers} subscribers x {args.events} channel messages · {through}")
    single = ServerProcess("jacws")
    try:
        one = fan_out(single, [single], args.subscribers, args.events)
    finally:
        single.stop()
    with redis_url(args.cluster) as url:
        extra = ["--redis-url", url]
        a, b, c = (ServerProcess("jacws", extra) for _ in range(3))
        try:
            quiet_members = Workers(idle_members, [(c.port, "quiet-room", 20, 30.0)])
            quiet_members.start()
            before = [relay_status(s) for s in (a, b, c)]
            assert all(status["sharded"] is args.cluster for status in before), before
            two = fan_out(a, [a, b], args.subscribers, args.events)
            after = [relay_status(s) for s in (a, b, c)]
        finally:
            for server in (a, b, c):
                server.stop()
    print(f"{'metric':26} {'1 process':>12} {'2 via Redis':>12} {'ratio':>8}")
    for key in one:
        x, y = one[key], two[key]
        ratio = f"{y / x:8.2f}" if x else "       -"
        print(f"{key:26} {x:12.1f} {y:12.1f} {ratio}")
    names = ("A (publisher, members)", "B (members)", "C (no member of it)")
    print(f"\nrelay traffic during the run, per process: {'messages':>10} {'bytes':>12}")
    for name, start, end in zip(names, before, after, strict=True):
        messages = end["received_messages"] - start["received_messages"]
        size = end["received_bytes"] - start["received_bytes"]
        print(f"  {name:40} {messages:10d} {size:12d}")


if __name__ == "__main__":
    main()

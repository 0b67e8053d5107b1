"""Interest routing across three real `jacws serve` processes sharing a real redis-server: a process receives
only what its members need, delivery stays exactly once and in order, and resumes after Redis returns."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from services import RedisServer
from support import TIMEOUT, WS, quiet, wait_until
from test_cli import CHAT, Serve

RECOVERY = 5.0


def relay_status(process: Serve) -> dict[str, Any]:
    status: dict[str, Any] = httpx.get(process.url + "/healthz", timeout=TIMEOUT).json()["relay"]
    return status


@contextlib.contextmanager
def serving(redis_url: str, count: int) -> Iterator[list[Serve]]:
    """``count`` `jacws serve` processes of the chat example sharing ``redis_url``, each relay connected."""
    processes = [Serve(str(CHAT), "--redis-url", redis_url, "--log-level", "info") for _ in range(count)]
    try:
        for process in processes:
            process.wait_for_line("Application startup complete", timeout=30)
        for process in processes:
            wait_until(lambda p=process: relay_status(p)["connected"], "a relay did not connect")  # type: ignore[misc]
        yield processes
    finally:
        for process in processes:
            if process.process.poll() is None:
                process.interrupt()
            else:
                process.close()


@pytest.fixture
def trio(redis_url: str) -> Iterator[list[Serve]]:
    """Three processes on a single Redis, then on a Redis Cluster (sharded pub/sub)."""
    with serving(redis_url, 3) as processes:
        yield processes


@pytest.fixture
def trio_on_one_redis(redis_server: RedisServer) -> Iterator[list[Serve]]:
    with serving(redis_server.url, 3) as processes:
        yield processes


def test_processes_without_members_of_a_busy_channel_receive_none_of_it(trio: list[Serve]) -> None:
    first, second, third = trio
    count = 300
    members = [WS(first.ws_url, channel_id="busy") for _ in range(3)]
    senders = [WS(second.ws_url, channel_id="elsewhere-2"), WS(third.ws_url, channel_id="elsewhere-3")]
    try:
        before = [relay_status(p) for p in trio]
        got: list[list[tuple[int, int]]] = [[] for _ in members]

        def read(index: int) -> None:
            for _ in range(2 * count):
                message = members[index].recv()
                got[index].append((message["s"], message["n"]))

        readers = [threading.Thread(target=read, args=(i,), daemon=True) for i in range(len(members))]
        for reader in readers:
            reader.start()
        for n in range(count):
            for s, sender in enumerate(senders):
                sender.send({"type": "channel", "channel_ids": ["busy"], "data": {"s": s, "n": n}})
        for reader in readers:
            reader.join(30)
        for received in got:  # exactly once, in each sender's order
            assert len(received) == 2 * count
            for s in range(len(senders)):
                assert [n for sender, n in received if sender == s] == list(range(count))
        quiet(*members)
        after = [relay_status(p) for p in trio]
        assert after[0]["received_messages"] - before[0]["received_messages"] == 2 * count
        for process_index in (1, 2):  # the senders' processes have no member of "busy": nothing came back
            assert after[process_index]["received_messages"] == before[process_index]["received_messages"] == 0
            assert after[process_index]["received_bytes"] == 0
        assert after[0]["subscriptions"] >= 1 + 3 + 1  # the channel, three clients, the public user
    finally:
        for ws in [*members, *senders]:
            ws.close()


def test_subscriptions_follow_the_first_arrival_and_the_last_departure(trio: list[Serve]) -> None:
    first, second, _ = trio
    assert relay_status(first)["subscriptions"] == 0  # no member here yet: only the control channel
    ws = WS(first.ws_url, channel_id="come-and-go")
    try:
        assert relay_status(first)["subscriptions"] == 3  # its channel, its client id, the public user
        with WS(second.ws_url) as sender:
            sender.send({"type": "channel", "channel_ids": ["come-and-go"], "data": {"n": 1}})
            assert ws.recv() == {"n": 1}
    finally:
        ws.close()
    wait_until(lambda: relay_status(first)["subscriptions"] == 0, "the last departure did not unsubscribe")


def test_a_message_to_several_channels_of_one_member_arrives_once_across_processes(trio: list[Serve]) -> None:
    first, second, _ = trio
    with WS(first.ws_url, channel_id="m-a") as member, WS(second.ws_url) as sender:
        member.send({"type": "join", "channel_ids": ["m-b", "m-c"]})
        assert member.recv()["channel_ids"] == ["m-a", "m-b", "m-c"]
        sender.send({"type": "channel", "channel_ids": ["m-a", "m-b", "m-c"], "data": {"once": True}})
        sender.send({"type": "channel", "channel_ids": ["m-c"], "data": {"then": True}})
        assert member.recv() == {"once": True}
        assert member.recv() == {"then": True}  # and not a second copy of the first
        quiet(member)


def test_delivery_resumes_within_five_seconds_of_redis_returning(
    trio_on_one_redis: list[Serve], redis_server: RedisServer
) -> None:
    first, second, _ = trio_on_one_redis
    with WS(first.ws_url, channel_id="back") as member, WS(second.ws_url) as sender:
        sender.send({"type": "channel", "channel_ids": ["back"], "data": {"n": 0}})
        assert member.recv() == {"n": 0}
        redis_server.kill()
        wait_until(lambda: not relay_status(second)["connected"], "the outage was not noticed")
        redis_server.start()
        back = time.monotonic()
        wait_until(
            lambda: all(relay_status(p)["connected"] and relay_status(p)["reconnects"] >= 1 for p in (first, second)),
            "the relays did not reconnect",
            timeout=RECOVERY,
        )
        assert time.monotonic() - back < RECOVERY
        sender.send({"type": "channel", "channel_ids": ["back"], "data": {"n": 1}})
        assert member.recv() == {"n": 1}  # the member's subscription came back with the connection
        quiet(member)

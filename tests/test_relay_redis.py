"""Two jacws servers sharing a real redis-server: every delivery crosses exactly once, in order,
and survives Redis going away and coming back."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.cluster import RedisCluster as SyncRedisCluster
from services import RedisClusterServers, RedisServer
from support import TIMEOUT, WS, quiet, register_and_login

from jacws.auth import new_secret
from jacws.protocol import PUBLIC_ROOT_ID
from jacws.relays.redis import PROBE_EVERY, RedisRelay
from jacws.relays.redis_state import OPERATION_TIMEOUT
from jacws.server import Server
from jacws.settings import Settings

RECOVERY = 5.0  # seconds within which cross-process delivery must resume after Redis returns
STALL_NOTICED = PROBE_EVERY + 2 * OPERATION_TIMEOUT + 1.0  # a ping unanswered, and a loaded machine's slack


def relay_of(server: Server) -> RedisRelay:
    assert server.runtime is not None
    relay = server.runtime.relay
    assert isinstance(relay, RedisRelay)
    return relay


def wait_until(condition: Any, timeout: float, what: str) -> None:
    """Poll a condition the servers expose (no event to await across processes' relays)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s")
        time.sleep(0.02)


@contextlib.contextmanager
def serving_pair(redis_url: str, folder: Path) -> Iterator[tuple[Server, Server]]:
    """Servers A and B: one Redis, one shared SQLite file, one secret."""
    settings = Settings(port=0, db=str(folder / "shared.db"), secret=new_secret(), redis_url=redis_url)
    a, b = Server(settings).start(), Server(settings).start()
    try:
        assert relay_of(a).connected and relay_of(b).connected
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture
def pair(redis_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """A and B on a single Redis, then on a Redis Cluster."""
    with serving_pair(redis_url, tmp_path) as servers:
        yield servers


@pytest.fixture
def pair_on_one_redis(redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    with serving_pair(redis_server.url, tmp_path) as servers:
        yield servers


def test_channel_events_cross_to_the_other_server_exactly_once(pair: tuple[Server, Server]) -> None:
    a, b = pair
    with WS(a.ws_url, channel_id="x") as on_a, WS(b.ws_url, channel_id="x") as on_b, WS(b.ws_url) as other:
        on_a.send({"type": "channel", "channel_ids": ["x", "x"], "data": {"n": 1}})
        assert on_a.recv() == {"n": 1} and on_b.recv() == {"n": 1}
        quiet(on_a, on_b, other)


def test_user_and_client_events_reach_connections_on_both_servers(pair: tuple[Server, Server]) -> None:
    a, b = pair
    login = register_and_login(a.url, "crossing@example.com")
    root = "n::" + login["user"]["root_id"]
    with (
        WS(a.ws_url, token=login["token"]) as user_on_a,
        WS(b.ws_url, token=login["token"]) as user_on_b,
        WS(b.ws_url) as sender,
        WS(a.ws_url) as target,
    ):
        assert user_on_b.root_id == root  # the token issued by A is valid on B
        sender.send({"type": "user", "root_ids": [root], "data": {"to": "user"}})
        assert user_on_a.recv() == {"to": "user"} and user_on_b.recv() == {"to": "user"}
        sender.send({"type": "client", "client_ids": [target.client_id, sender.client_id], "data": {"to": "c"}})
        assert target.recv() == {"to": "c"} and sender.recv() == {"to": "c"}
        quiet(user_on_a, user_on_b, sender, target)


@pytest.mark.parametrize("walker", ["t_notify", "t_async_notify"])
def test_walker_notify_calls_cross_servers(pair: tuple[Server, Server], walker: str) -> None:
    a, b = pair
    login = register_and_login(a.url, "notified@example.com")
    root = "n::" + login["user"]["root_id"]
    with WS(b.ws_url, token=login["token"], channel_id="n") as far, WS(a.ws_url) as caller:
        assert caller.call(walker, kind="users", ids=[root], data={"k": "users"})["status"] == 200
        assert far.recv() == {"k": "users"}
        caller.call(walker, kind="channels", ids=["n"], data={"k": "channels"})
        assert far.recv() == {"k": "channels"}
        caller.call(walker, kind="clients", ids=[far.client_id], data={"k": "clients"})
        assert far.recv() == {"k": "clients"}
        quiet(far, caller)


def test_the_server_handle_and_rest_notify_across(pair: tuple[Server, Server]) -> None:
    a, b = pair
    with WS(a.ws_url, channel_id="h") as on_a:
        b.notify_channels(["h"], {"from": "b's handle"})
        assert on_a.recv() == {"from": "b's handle"}
        with httpx.Client(base_url=b.url, timeout=TIMEOUT) as http:
            body = {"kind": "clients", "ids": [on_a.client_id], "data": {"from": "rest on b"}}
            assert http.post("/walker/t_notify", json=body).status_code == 200
        assert on_a.recv() == {"from": "rest on b"}


def test_thousands_of_messages_cross_exactly_once_in_each_senders_order(pair: tuple[Server, Server]) -> None:
    a, b = pair
    count = 1500
    receivers = [WS(a.ws_url, channel_id="flood"), WS(b.ws_url, channel_id="flood")]
    senders = {"a": WS(a.ws_url), "b": WS(b.ws_url)}
    try:
        got: list[list[tuple[str, int]]] = [[], []]

        def read(index: int) -> None:
            for _ in range(2 * count):
                message = receivers[index].recv()
                got[index].append((message["s"], message["n"]))

        readers = [threading.Thread(target=read, args=(i,), daemon=True) for i in range(2)]
        for reader in readers:
            reader.start()
        for n in range(count):
            for name, sender in senders.items():
                sender.send({"type": "channel", "channel_ids": ["flood"], "data": {"s": name, "n": n}})
        for reader in readers:
            reader.join(30)
        for received in got:
            for name in senders:
                assert [n for s, n in received if s == name] == list(range(count))
        quiet(*receivers)
    finally:
        for client in [*receivers, *senders.values()]:
            client.close()


def test_redis_outage_keeps_local_delivery_and_cross_delivery_resumes(
    pair_on_one_redis: tuple[Server, Server], redis_server: RedisServer
) -> None:
    a, b = pair_on_one_redis
    with (
        WS(a.ws_url, channel_id="o") as near,
        WS(b.ws_url, channel_id="o") as far,
        WS(a.ws_url) as sender,
        httpx.Client(timeout=TIMEOUT) as http,
    ):
        sender.send({"type": "channel", "channel_ids": ["o"], "data": {"n": 0}})
        assert near.recv() == {"n": 0} and far.recv() == {"n": 0}

        redis_server.kill()
        wait_until(lambda: not relay_of(a).connected, TIMEOUT, "A noticed the outage")
        assert http.get(a.url + "/healthz").json()["relay"]["connected"] is False
        for n in range(1, 6):  # local delivery never stops
            sender.send({"type": "channel", "channel_ids": ["o"], "data": {"n": n}})
            assert near.recv() == {"n": n}
        assert relay_of(a).dropped >= 5  # at most once across processes: counted, not queued

        redis_server.start()
        back = time.monotonic()
        # (reconnects, not connected: a relay that has not noticed the outage yet still says connected)
        wait_until(
            lambda: all(relay_of(s).connected and relay_of(s).reconnects >= 1 for s in (a, b)),
            RECOVERY,
            "both relays reconnected",
        )
        assert time.monotonic() - back < RECOVERY
        sender.send({"type": "channel", "channel_ids": ["o"], "data": {"n": 6}})
        assert near.recv() == {"n": 6}
        assert far.recv() == {"n": 6}  # nothing from the outage, nothing twice
        status = http.get(a.url + "/healthz").json()["relay"]
        assert status["connected"] is True and status["reconnects"] >= 1
        quiet(near, far, sender)


def test_a_redis_that_stops_answering_is_noticed_and_cross_delivery_resumes(
    pair_on_one_redis: tuple[Server, Server], redis_server: RedisServer
) -> None:
    """No connection closes when Redis stalls: only the relay's pings can tell, within STALL_NOTICED."""
    a, b = pair_on_one_redis
    with WS(a.ws_url, channel_id="s") as near, WS(b.ws_url, channel_id="s") as far, WS(a.ws_url) as sender:
        sender.send({"type": "channel", "channel_ids": ["s"], "data": {"n": 0}})
        assert near.recv() == {"n": 0} and far.recv() == {"n": 0}

        redis_server.pause()
        try:
            wait_until(
                lambda: not (relay_of(a).connected or relay_of(b).connected), STALL_NOTICED, "both noticed the stall"
            )
            sender.send({"type": "channel", "channel_ids": ["s"], "data": {"n": 1}})
            assert near.recv() == {"n": 1}  # local delivery goes on
        finally:
            redis_server.resume()
        wait_until(
            lambda: all(relay_of(s).connected and relay_of(s).reconnects >= 1 for s in (a, b)),
            RECOVERY,
            "both relays reconnected",
        )
        sender.send({"type": "channel", "channel_ids": ["s"], "data": {"n": 2}})
        assert near.recv() == {"n": 2}
        assert far.recv() == {"n": 2}  # nothing from the stall, nothing twice
        quiet(near, far, sender)


def test_on_a_cluster_each_channel_is_sharded_to_the_primary_of_its_slot(
    redis_cluster: RedisClusterServers, tmp_path: Path
) -> None:
    channels = [f"spread-{n}" for n in range(12)]
    with (
        serving_pair(redis_cluster.url, tmp_path) as (a, b),
        WS(a.ws_url, channel_id=channels[0]) as member,
        WS(b.ws_url) as sender,
        SyncRedisCluster.from_url(redis_cluster.url) as cluster,
    ):
        assert relay_of(a).sharded and relay_of(b).sharded
        member.send({"type": "join", "channel_ids": channels[1:]})
        assert member.recv()["channel_ids"] == channels
        topics = {relay_of(a).topic("channel", channel): channel for channel in channels}
        held: dict[str, set[bytes]] = {}
        for node in cluster.get_primaries():
            held[node.name] = set(cluster.pubsub_shardchannels(b"jacws:{c:spread-*", target_nodes=node))
        for topic in topics:  # on its slot's primary, and there only
            owner = cluster.get_node_from_key(topic).name
            assert [name for name, names in held.items() if topic in names] == [owner], topic
        assert sum(1 for names in held.values() if names) >= 2  # the channels are spread over the primaries
        rounds = 5
        for n in range(rounds):
            for channel in channels:
                sender.send({"type": "channel", "channel_ids": [channel], "data": {"c": channel, "n": n}})
        got = [member.recv() for _ in range(rounds * len(channels))]
        for channel in channels:  # once each, and in order per channel (each channel's slot has one primary)
            assert [m["n"] for m in got if m["c"] == channel] == list(range(rounds))
        quiet(member)


def test_when_a_channels_slot_moves_to_another_primary_delivery_resumes(
    redis_cluster: RedisClusterServers, tmp_path: Path
) -> None:
    """Redis ends the sharded subscriptions of a slot that moves; the relay follows the new slot map."""
    with (
        serving_pair(redis_cluster.url, tmp_path) as (a, b),
        WS(a.ws_url, channel_id="mover") as member,
        WS(b.ws_url) as sender,
    ):
        sender.send({"type": "channel", "channel_ids": ["mover"], "data": {"n": 0}})
        assert member.recv() == {"n": 0}
        redis_cluster.move_slot(relay_of(a).topic("channel", "mover"))
        moved = time.monotonic()
        wait_until(lambda: relay_of(a).reconnects >= 1 and relay_of(a).connected, RECOVERY, "A resubscribed")
        assert time.monotonic() - moved < RECOVERY
        sender.send({"type": "channel", "channel_ids": ["mover"], "data": {"n": 1}})
        assert member.recv() == {"n": 1}
        quiet(member)


def test_logout_on_one_server_turns_the_users_sockets_anonymous_on_the_other(pair: tuple[Server, Server]) -> None:
    a, b = pair
    login = register_and_login(a.url, "leaver@example.com")
    with WS(b.ws_url, token=login["token"]) as on_b, httpx.Client(timeout=TIMEOUT) as http:
        assert on_b.root_id != PUBLIC_ROOT_ID
        answer = http.post(a.url + "/user/logout", headers={"Authorization": f"Bearer {login['token']}"})
        assert answer.status_code == 200
        assert on_b.recv()["data"]["root_id"] == PUBLIC_ROOT_ID
        assert (
            http.post(b.url + "/walker/t_notes", headers={"Authorization": f"Bearer {login['token']}"}).status_code
            == 401
        )


def test_without_redis_a_revocation_reaches_other_processes_through_the_shared_store(tmp_path: Path) -> None:
    settings = Settings(port=0, db=str(tmp_path / "s.db"), secret=new_secret(), sync_seconds=0.5)
    a, b = Server(settings).start(), Server(settings).start()
    try:
        login = register_and_login(a.url, "store-only@example.com")
        with WS(b.ws_url, token=login["token"]) as on_b, httpx.Client(timeout=TIMEOUT) as http:
            http.post(a.url + "/user/logout", headers={"Authorization": f"Bearer {login['token']}"})
            assert on_b.recv(timeout=5)["data"]["root_id"] == PUBLIC_ROOT_ID
    finally:
        a.stop()
        b.stop()

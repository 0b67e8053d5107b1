"""Isolation over real sockets: slow walkers and clients that stop reading hold up no one else."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from support import TIMEOUT, WS, wait_until
from websockets.exceptions import ConnectionClosed

from jacws.server import Server
from jacws.settings import Settings

MESSAGES = 600
BATCH = 20
PAYLOAD = "x" * 50_000


@pytest.fixture(scope="module")
def strict_server() -> Iterator[Server]:
    srv = Server(Settings(port=0).with_changes(max_backlog_messages=100, slow_consumer_seconds=1.0)).start()
    yield srv
    srv.stop()


def test_a_slow_walker_delays_neither_other_connections_nor_the_callers_other_events(server: Server) -> None:
    with (
        WS(server.ws_url, channel_id="iso") as walker_caller,
        WS(server.ws_url, channel_id="iso") as other,
        WS(server.ws_url) as sender,
    ):
        walker_caller.walker("t_slow", request_id="slow", seconds=3)
        walker_caller.walker("t_sync_slow", request_id="sync", seconds=0.1)
        sender.send({"type": "channel", "channel_ids": ["iso"], "data": {"n": 1}})
        assert other.recv() == {"n": 1}
        assert walker_caller.recv() == {"n": 1}  # before the slow walker's answer
        assert walker_caller.recv(timeout=TIMEOUT + 3) == {"status": 200, "reports": ["slept"], "id": "slow"}
        assert walker_caller.recv()["id"] == "sync"


def test_many_blocking_sync_walkers_do_not_block_the_server(server: Server) -> None:
    callers = [WS(server.ws_url) for _ in range(5)]
    try:
        with WS(server.ws_url, channel_id="busy") as listener, WS(server.ws_url) as sender:
            for caller in callers:
                caller.walker("t_sync_slow", seconds=2)
            sender.send({"type": "channel", "channel_ids": ["busy"], "data": {"alive": True}})
            assert listener.recv() == {"alive": True}
            assert listener.call("t_echo", value=1)["status"] == 200
            for caller in callers:
                assert caller.recv(timeout=TIMEOUT + 2)["reports"] == ["slept"]
    finally:
        for caller in callers:
            caller.close()


def test_a_client_that_never_reads_is_closed_with_1008_and_the_others_get_every_message(strict_server: Server) -> None:
    url = strict_server.ws_url
    closed_before = strict_server.metrics()["closed_by_server"].get("1008", 0)
    slow = WS(url, channel_id="flood", max_size=None)
    healthy = [WS(url, channel_id="flood", max_size=None) for _ in range(2)]
    progress = [0, 0]
    received: list[list[int]] = [[], []]
    moved = threading.Condition()

    def read(index: int) -> None:
        for _ in range(MESSAGES):
            message = healthy[index].recv()
            with moved:
                received[index].append(message["n"])
                progress[index] += 1
                moved.notify_all()

    readers = [threading.Thread(target=read, args=(i,), daemon=True) for i in range(2)]
    for reader in readers:
        reader.start()
    with WS(url) as publisher:
        for n in range(MESSAGES):
            publisher.send({"type": "channel", "channel_ids": ["flood"], "data": {"n": n, "pad": PAYLOAD}})
            if (n + 1) % BATCH == 0:
                with moved:
                    assert moved.wait_for(lambda sent=n + 1: min(progress) >= sent, timeout=TIMEOUT), progress
    for reader in readers:
        reader.join(TIMEOUT)
    assert received == [list(range(MESSAGES))] * 2
    wait_until(  # it has read nothing for the grace period: the server closes it
        lambda: strict_server.metrics()["closed_by_server"].get("1008", 0) > closed_before, "no 1008 close"
    )

    got = 0
    with pytest.raises(ConnectionClosed):
        while True:
            slow.recv()
            got += 1
    assert slow.ws.close_code == 1008 and slow.ws.close_reason == "slow consumer"
    assert got < MESSAGES, got
    for client in healthy:
        client.barrier()
        client.close()


@pytest.fixture(scope="module")
def rate_limited_server() -> Iterator[Server]:
    limits = {"rate_per_second": 50, "rate_burst": 50, "rate_grace_seconds": 0.3}
    srv = Server(Settings(port=0).with_changes(**limits)).start()
    yield srv
    srv.stop()


def test_a_flooding_client_is_answered_rate_limited_then_closed_with_1008(rate_limited_server: Server) -> None:
    url = rate_limited_server.ws_url
    # another address (anonymous sockets of one address share its budget)
    with WS(url, channel_id="calm", source_address=("127.0.0.2", 0)) as bystander, WS(url) as flooder:
        for _ in range(60):
            flooder.send({"type": "client", "client_ids": ["nobody"], "data": {}})
        assert flooder.recv() == {
            "type": "error",
            "error": "too many messages: the limit is 50 messages per second; message dropped",
            "code": "rate_limited",
        }
        with pytest.raises(ConnectionClosed):
            for _ in range(1_000_000):  # keep flooding until the server closes the socket
                flooder.send({"type": "client", "client_ids": ["nobody"], "data": {}})
        with pytest.raises(ConnectionClosed):
            while True:
                flooder.recv()
        assert flooder.ws.close_code == 1008 and flooder.ws.close_reason == "rate limit exceeded"
        bystander.barrier()


def test_a_client_that_never_reads_again_is_dropped_after_the_close_timeout() -> None:
    server = Server(Settings(port=0).with_changes(max_backlog_messages=20, close_timeout=0.5)).start()
    try:
        stalled = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        stalled.sendall(
            f"GET /websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        assert b"101" in stalled.recv(200)  # handshake accepted; from now on it reads nothing
        (connection,) = server.snapshot()["connections"]
        for _ in range(200):  # far more than its backlog and every buffer on the way
            server.notify_clients([connection["client_id"]], {"pad": "x" * 50_000})
        wait_until(lambda: not server.snapshot()["connections"], "the stalled client is still connected", 2 * TIMEOUT)
        stalled.close()
    finally:
        server.stop()

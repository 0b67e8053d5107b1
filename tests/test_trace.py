"""Causes of frames: recorded only for traced clients of this process, consumed one per frame, never leaked."""

from __future__ import annotations

from collections import deque

import orjson
from support import TIMEOUT
from websockets.sync.client import connect

from jacws.client import Client
from jacws.server import Server
from jacws.trace import TRACE_HEADER, Cause, close_trace, find_trace, open_trace


def test_a_trace_is_found_by_its_key_until_closed_and_gives_causes_in_order() -> None:
    trace = open_trace()
    assert find_trace(trace.key) is trace and find_trace("0" * 32) is None
    first, second = Cause("channel", "client", "c1", targets=("room",)), Cause("response", "walker", walker="w")
    trace.causes.extend([first, second])
    assert trace.next_cause() is first and trace.next_cause() is second and trace.next_cause() is None
    assert first.with_route("error") == Cause("error", "client", "c1")
    close_trace(trace)
    assert find_trace(trace.key) is None


def test_a_simulated_client_is_traced_by_an_in_process_server_and_forgotten_when_closed(server: Server) -> None:
    client = Client(server.ws_url, channel_id="trace-room")
    key = client._trace.key if client._trace else None
    assert key is not None and find_trace(key) is not None
    assert server.hub.traced >= 1
    client.walker("t_echo", value=1).result()
    causes = [m.cause for m in client.inbox]
    assert causes[0] == Cause("connection", "client", client.client_id, key, 0)
    assert causes[1] == Cause("response", "walker", client.client_id, key, 1, "t_echo")
    client.close()
    assert find_trace(key) is None
    snapshot = server.snapshot()  # taken on the server's loop: the disconnect has been handled by then
    assert client.client_id not in {c["client_id"] for c in snapshot["connections"]}


def test_a_remote_client_cannot_make_the_server_record_anything(server: Server) -> None:
    closed = open_trace()
    close_trace(closed)
    before = server.hub.traced
    for key in ("f" * 32, closed.key):  # a guess, and a key no longer open
        headers = {TRACE_HEADER: key}
        with connect(server.ws_url, additional_headers=headers, open_timeout=TIMEOUT, ping_interval=None) as ws:
            client_id = orjson.loads(ws.recv(timeout=TIMEOUT))["data"]["client_id"]
            assert server.hub.traced == before
            assert server.hub.connections[client_id].trace is None
        assert closed.causes == deque()


def test_a_key_traces_one_connection_only(server: Server) -> None:
    client = Client(server.ws_url, channel_id="trace-once")
    try:
        assert client._trace is not None
        key = client._trace.key
        before = server.hub.traced
        headers = {TRACE_HEADER: key}  # a second connection naming a key that is open and bound
        with connect(server.ws_url, additional_headers=headers, open_timeout=TIMEOUT, ping_interval=None) as ws:
            client_id = orjson.loads(ws.recv(timeout=TIMEOUT))["data"]["client_id"]
            assert server.hub.connections[client_id].trace is None and server.hub.traced == before
        client.connection()
        assert client.inbox[-1].cause == Cause("connection", "client", client.client_id, key, 1)
    finally:
        client.close()


def test_only_loopback_servers_are_sent_a_key() -> None:
    from jacws.trace import may_trace

    assert may_trace("ws://127.0.0.1:8000/websocket") and may_trace("ws://localhost:1/websocket")
    assert may_trace("ws://[::1]:8000/websocket") and may_trace("ws://127.8.0.1/websocket")
    assert not may_trace("wss://example.com/websocket") and not may_trace("ws://10.0.0.5:8000/websocket")

"""The background-thread server handle: start, stop, replace, ports, threads, persistence."""

from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path

import httpx
import pytest
from support import TIMEOUT, WS, register_and_login
from websockets.exceptions import ConnectionClosed

import jacws
from jacws.errors import PortInUse, ServerError
from jacws.server import Server, ServerState
from jacws.settings import Settings


def refused(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:port."""
    with socket.socket() as probe:
        probe.settimeout(TIMEOUT)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_start_returns_when_connections_are_accepted_and_stop_closes_them_with_1001() -> None:
    server = jacws.start()
    try:
        assert server.state is ServerState.RUNNING
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.ws_url == f"ws://127.0.0.1:{server.port}/websocket"
        clients = [WS(server.ws_url) for _ in range(3)]
    finally:
        port = server.port
        server.stop()
    assert server.state is ServerState.STOPPED and port is not None and refused(port)
    for client in clients:
        with pytest.raises(ConnectionClosed):
            client.recv()
        assert client.ws.close_code == 1001


def test_a_taken_port_raises_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} on 127.0.0.1 is taken"):
            Server(Settings(port=port)).start()


def test_starting_again_replaces_the_earlier_server_on_the_same_port() -> None:
    first = jacws.start()
    port = first.port
    assert port is not None
    with WS(first.ws_url) as client:
        second = jacws.start(port=port)
        try:
            assert first.state is ServerState.STOPPED and second.port == port
            with pytest.raises(ConnectionClosed):
                client.recv()
            assert client.ws.close_code == 1001
            with WS(second.ws_url) as fresh:
                fresh.barrier()
        finally:
            second.stop()


def test_twenty_start_stop_cycles_leave_no_thread_socket_or_port_behind() -> None:
    threads_before = {t.ident for t in threading.enumerate()}
    fds_before = len(os.listdir("/proc/self/fd"))
    handler_before = signal.getsignal(signal.SIGINT)
    ports = []
    for _ in range(20):
        with jacws.start() as server:
            assert server.port is not None
            ports.append(server.port)
            with WS(server.ws_url) as client:
                assert client.call("t_echo", value=1)["status"] == 200
    leftover = [t.name for t in threading.enumerate() if t.ident not in threads_before]
    assert leftover == []
    assert len(os.listdir("/proc/self/fd")) <= fds_before
    assert all(refused(port) for port in ports)
    assert signal.getsignal(signal.SIGINT) is handler_before


def test_a_file_store_keeps_users_tokens_and_graphs_across_restarts(tmp_path: Path) -> None:
    db = str(tmp_path / "chat.db")
    with jacws.start(db=db) as server:
        login = register_and_login(server.url, "persist@example.com")
        with WS(server.ws_url, token=login["token"]) as ws:
            note_id = ws.call("t_private_note", text="kept")["reports"][0]["id"]
    assert oct(os.stat(db + ".secret").st_mode & 0o777) == "0o600"
    with jacws.start(db=db) as server:
        with WS(server.ws_url, token=login["token"]) as ws:  # same secret: the old token is still valid
            assert ws.root_id == "n::" + login["user"]["root_id"]
            assert ws.call("t_notes")["reports"] == [[{"text": "kept", "likes": 0}]]
            ws.send({"type": "walker", "walker": "t_like", "node": note_id, "response": True})
            assert ws.recv()["reports"][0]["context"]["likes"] == 1
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
            again = http.post("/user/login", json={"email": "persist@example.com", "password": "s3cret-pass"})
            assert again.status_code == 200


def test_an_in_memory_server_starts_empty_and_rejects_tokens_of_an_earlier_run() -> None:
    with jacws.start() as server:
        login = register_and_login(server.url, "gone@example.com")
    with jacws.start() as server, WS(server.ws_url, token=login["token"]) as ws:
        assert ws.root_id == "n::000000000000000000000001"


def test_calls_on_a_stopped_server_say_it_is_not_running() -> None:
    server = Server()
    with pytest.raises(ServerError, match="not running"):
        server.notify_channels(["x"], {})
    with pytest.raises(ServerError, match="not running"):
        _ = server.url
    server.start()
    with pytest.raises(ServerError, match="expected stopped"):
        server.start()
    server.stop()
    server.stop()  # stopping twice is harmless


def test_replace_false_keeps_earlier_servers_and_the_next_start_replaces_them_all() -> None:
    first = jacws.start()
    second = jacws.start(replace=False)
    assert first.state is ServerState.RUNNING and second.state is ServerState.RUNNING
    third = jacws.start()
    try:
        assert first.state is ServerState.STOPPED and second.state is ServerState.STOPPED
    finally:
        third.stop()


def test_a_failed_setup_leaves_the_handle_stopped_and_the_port_free() -> None:
    server = Server(Settings(port=0, db="mysql://nowhere/db"))
    with pytest.raises(ValueError, match="mysql"):
        server.start()
    assert server.state is ServerState.STOPPED and server.port is None
    server.settings = Settings(port=0)
    server.start()
    server.stop()


def test_playground_users_get_a_random_password_of_their_server_kept_with_a_file_store(tmp_path: Path) -> None:
    db = str(tmp_path / "play.db")
    with Server(Settings(port=0, db=db)) as first, Server(Settings(port=0)) as other:
        password = first.playground_password
        assert len(password) >= 20 and password != other.playground_password
        assert password != "playground-password"  # the fixed one every playground used to share
        assert first.client(user="alice@example.com").email == "alice@example.com"  # registered, logged in
        with httpx.Client(base_url=first.url, timeout=TIMEOUT) as http:
            guess = http.post("/user/login", json={"email": "alice@example.com", "password": "playground-password"})
            assert guess.status_code == 400
    with Server(Settings(port=0, db=db)) as again:  # the same store and secret: the same password
        assert again.playground_password == password
        assert again.client(user="alice@example.com").email == "alice@example.com"


def test_every_live_connection_is_on_jacws_own_protocol_and_its_fast_path(server: Server) -> None:
    from jacws.wsprotocol import JacWSProtocol

    with WS(server.ws_url, channel_id="fast") as ws:
        ws.send({"type": "channel", "channel_ids": ["fast"], "data": {"n": 1}})
        assert ws.recv() == {"n": 1}
        conn = server.hub.connections[ws.client_id]
        assert type(conn.transport) is JacWSProtocol  # not a fallback that would lose the fast path
        assert conn.transport.send_nowait is not None and conn.backlog == 0 and conn._writer is None

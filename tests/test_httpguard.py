"""Every TCP connection takes a slot, and request headers are bounded in size and time (jacws.httpguard)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from support import TIMEOUT, WS, rss
from websockets.exceptions import InvalidStatus

from jacws.server import Server
from jacws.settings import Settings

MiB = 1 << 20
PARTIAL = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # headers that never end


@pytest.fixture
def quick() -> Iterator[Server]:
    """A server whose requests have one second for their headers, and room for eight connections."""
    with Server(Settings(port=0).with_changes(header_timeout=1.0, max_connections=8)) as server:
        yield server


def opened(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port or 0), timeout=TIMEOUT)


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def test_half_sent_requests_are_answered_408_and_closed_after_the_header_timeout(quick: Server) -> None:
    sockets = [opened(quick) for _ in range(6)]
    started = time.monotonic()
    for n, sock in enumerate(sockets):
        if n % 2:
            sock.sendall(PARTIAL)  # a slowloris: headers started, never finished
    for sock in sockets:  # (and half of them sent nothing at all)
        with sock:
            assert answer(sock).startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 1.0 + TIMEOUT


def test_headers_over_the_limit_are_answered_431_and_the_memory_stays_flat() -> None:
    with Server(Settings(port=0)) as server:
        before = rss()
        sent = 0
        with opened(server) as sock:
            sock.sendall(PARTIAL)
            try:
                while sent < 100 * MiB:  # the attack: a 100 MiB header
                    sock.sendall(b"a" * 65536)
                    sent += 65536
            except (BrokenPipeError, ConnectionResetError):
                pass
            reply = answer(sock)
        assert sent < 16 * MiB, f"the server read {sent / MiB:.0f} MiB of headers"
        assert reply == b"" or reply.startswith(b"HTTP/1.1 431 ")  # (a reset may swallow the answer)
        assert rss() - before < 50 * MiB


def test_http_connections_count_toward_the_connection_limit(quick: Server) -> None:
    idle = [opened(quick) for _ in range(8)]  # eight HTTP connections that send nothing: every slot
    for sock in idle:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # (and each is really there before the websocket tries)
    with pytest.raises(InvalidStatus) as refused:
        WS(quick.ws_url)
    assert refused.value.response.status_code == 503
    for sock in idle:  # the header timeout frees them
        with sock:
            answer(sock)
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            WS(quick.ws_url).close()
            break
        except InvalidStatus as busy:  # (until the last of them is gone)
            assert busy.response.status_code == 503 and time.monotonic() < deadline


def test_a_websocket_and_a_kept_alive_connection_are_not_cut_by_the_header_clock(quick: Server) -> None:
    with WS(quick.ws_url) as ws:  # the clock stops once the handshake's headers are in
        with pytest.raises(TimeoutError):
            ws.recv(timeout=1.5)  # longer than the header timeout: nothing comes, nothing closes
        ws.send({"type": "connection"})
        assert ws.recv()["type"] == "connection"
    with opened(quick) as sock:  # keep-alive: a second request must send its headers in time too
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        sock.sendall(PARTIAL)
        assert answer(sock).startswith(b"HTTP/1.1 408 ")

"""jacws's websocket protocol over real sockets: handshakes, early frames, keepalive, closing."""

from __future__ import annotations

import base64
import logging
import os
import socket
import time

import orjson
import pytest
from support import TIMEOUT, WS, wait_until
from test_hardening import RawClient, start
from websockets.frames import Opcode

from jacws.server import Server


def _raw_request(server: Server, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port or 0), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_a_request_that_is_not_a_websocket_handshake_is_answered_400_and_closed(server: Server) -> None:
    answer = _raw_request(
        server,
        b"GET /websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n",  # no Sec-WebSocket-Key
    )
    assert answer.startswith(b"HTTP/1.1 400 ") and b"Sec-WebSocket-Key" in answer


def test_frames_sent_with_the_handshake_are_not_lost(server: Server) -> None:
    key = base64.b64encode(os.urandom(16))
    frame = orjson.dumps({"type": "connection"})
    masked = bytes(b ^ 0 for b in frame)  # a zero mask: the payload as it is
    request = (
        b"GET /websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: "
        + key
        + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        + bytes([0x81, 0x80 | len(frame)])
        + b"\x00\x00\x00\x00"
        + masked
    )
    with socket.create_connection(("127.0.0.1", server.port or 0), timeout=TIMEOUT) as sock:
        sock.sendall(request)  # the handshake and a frame in one packet
        received = b""
        deadline = time.monotonic() + TIMEOUT
        while received.count(b'"type":"connection"') < 2 and time.monotonic() < deadline:
            received += sock.recv(65536)
    assert received.startswith(b"HTTP/1.1 101 ") and received.count(b'"type":"connection"') == 2


def test_a_peer_that_answers_no_ping_is_closed_with_1011() -> None:
    server = start(ping_interval=0.2)
    try:
        raw = RawClient(server.ws_url)
        time.sleep(1.0)  # the peer reads nothing, so it answers no ping (this is the behaviour under test)
        frames = []
        while True:
            frame = raw.next_frame()
            frames.append(frame.opcode)
            if frame.opcode is Opcode.CLOSE:
                break
        assert raw.protocol.close_rcvd is not None and raw.protocol.close_rcvd.code == 1011
        assert Opcode.PING in frames
        raw.sock.close()
    finally:
        server.stop()


def test_a_close_from_the_peer_is_answered_with_its_code_and_forgotten(server: Server) -> None:
    ws = WS(server.ws_url)
    client_id = ws.client_id
    ws.ws.close(4000, "done here")
    assert ws.ws.close_code == 4000  # the server echoed our code
    wait_until(lambda: client_id not in server.hub.connections, "the closed socket is still registered")


def test_a_peer_that_resets_the_connection_leaves_no_error_behind(caplog: pytest.LogCaptureFixture) -> None:
    server = start()
    try:
        for _ in range(20):
            raw = RawClient(server.ws_url)
            client_id = raw.next_message()["data"]["client_id"]
            raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            raw.sock.close()  # a reset: no close frame, the TCP connection just ends
            wait_until(
                lambda c=client_id: c not in server.hub.connections,  # type: ignore[misc]
                "the reset socket is still registered",
            )
    finally:
        server.stop()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], errors


def test_an_open_connection_holds_no_task_and_closing_it_forgets_it_and_its_address(server: Server) -> None:
    uvicorn = server._uvicorn
    assert uvicorn is not None
    sockets = [WS(server.ws_url, channel_id="idle") for _ in range(20)]
    try:
        for ws in sockets:  # each answers: the hub has them, their protocol hands frames straight to it
            ws.send({"type": "connection"})
            assert ws.recv()["type"] == "connection"
        assert len(server.hub.by_channel["idle"]) == 20
        assert len(uvicorn.server_state.tasks) < 20  # no application task waits for each socket
    finally:
        for ws in sockets:
            ws.ws.close()
    wait_until(lambda: "idle" not in server.hub.by_channel, "closed sockets are still registered")
    wait_until(lambda: not server.hub.members.per_address, "closed sockets still count against their address")

"""HTTP bodies are bounded (jacws.bodylimit): 413 before a large body is held in memory."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import orjson
import pytest
from support import TIMEOUT, rss

from jacws.server import Server
from jacws.settings import Settings

MiB = 1 << 20


@pytest.fixture(scope="module")
def served() -> Iterator[Server]:
    with Server(Settings(port=0)) as server:
        yield server


def raw_request(server: Server, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port or 0), timeout=TIMEOUT)
    sock.sendall(head.encode())
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str]]:
    """The status and JSON body of the answer on ``sock`` (read until the server closes)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), orjson.loads(body)


def test_a_body_announced_over_the_limit_is_answered_413_before_a_byte_of_it_is_sent(served: Server) -> None:
    head = (
        "POST /user/register HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"content-length: {300 * MiB}\r\n\r\n"
    )
    with raw_request(served, head) as sock:  # the 300 MiB never follow: the answer comes anyway
        status, body = read_response(sock)
    assert status == 413
    assert body == {"error": f"request body too large: the limit is {MiB} bytes", "code": "body_too_large"}


def test_a_streamed_body_is_cut_off_at_the_limit_and_the_memory_stays_flat(served: Server) -> None:
    before = rss()
    head = (
        "POST /walker/t_echo HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        "transfer-encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%s\r\n" % (256 * 1024, b"a" * 256 * 1024)
    sent = 0
    with raw_request(served, head) as sock:
        try:
            while sent < 300 * MiB:  # the attack: 300 MiB, chunked, no length announced
                sock.sendall(chunk)
                sent += 256 * 1024
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading and closed: what it answered is already waiting
        try:
            status, body = read_response(sock)
        except ConnectionResetError:
            status, body = 0, {}
    assert sent < 64 * MiB, f"the server read {sent / MiB:.0f} MiB before stopping"
    assert status in (413, 0) and (status == 0 or body["code"] == "body_too_large")
    assert rss() - before < 50 * MiB


def test_a_300_mib_password_is_refused_and_nobody_is_registered(served: Server) -> None:
    password = "p" * (300 * MiB)
    with httpx.Client(base_url=served.url, timeout=60) as http:
        answer = http.post("/user/register", json={"email": "huge@example.com", "password": password})
        assert answer.status_code == 413 and answer.json()["code"] == "body_too_large"
        login = http.post("/user/login", json={"email": "huge@example.com", "password": "whatever"})
        assert login.status_code == 400  # no such user


def test_a_body_under_the_limit_still_reaches_the_walker(served: Server) -> None:
    with httpx.Client(base_url=served.url, timeout=TIMEOUT) as http:
        answer = http.post("/walker/t_echo", json={"value": 7, "label": "x" * (MiB - 100)})
    assert answer.status_code == 200 and answer.json()["reports"][0]["label"] == "x" * (MiB - 100)


def test_the_limit_is_a_setting() -> None:
    with Server(Settings(port=0).with_changes(max_body_bytes=1000)) as server, httpx.Client(timeout=TIMEOUT) as http:
        assert http.post(server.url + "/walker/t_echo", json={"value": 1, "label": "x" * 2000}).status_code == 413
        assert http.post(server.url + "/walker/t_echo", json={"value": 1, "label": "x" * 500}).status_code == 200

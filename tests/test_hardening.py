"""Hardening over real sockets: fuzzed frames, raw protocol edge cases, every limit, token
lifetime, leaks, and shutdown."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import TIMEOUT, WS, quiet, register_and_login, rss, wait_until
from websockets.asyncio.client import connect as async_connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from jacws.protocol import PUBLIC_ROOT_ID
from jacws.server import Server
from jacws.settings import Settings

ERROR_CODES = {
    "invalid_json",
    "invalid_event",
    "unknown_walker",
    "auth_required",
    "forbidden",
    "walker_error",
    "rate_limited",
    "too_large",
}
LEAKY = ("Traceback", 'File "', ".py", "site-packages", "/usr/", "/root/", "uvicorn", "starlette", "fastapi")
UNLIMITED = {"rate_per_second": 1e9, "rate_burst": 10**9}


def start(**changes: Any) -> Server:
    return Server(Settings(port=0).with_changes(**changes)).start()


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[Server]:
    # No keepalive pings: they draw from the random module in background threads, which
    # Hypothesis rightly reports while it generates examples.
    server = start(ping_interval=None, **UNLIMITED)
    yield server
    server.stop()


# -- fuzzing ---------------------------------------------------------------------------------------


class Nested(int):
    """A frame of ``self`` nested arrays, built when sent (keeps Hypothesis's reports short)."""

    def frame(self) -> str:
        return "[" * self + "]" * self


class Huge(int):
    """A channel event padded to ``self`` bytes, built when sent."""

    def frame(self) -> str:
        return '{"type": "channel", "channel_ids": ["void"], "data": {"pad": "' + "x" * self + '"}}'


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
ids = st.one_of(st.lists(st.text(max_size=12), max_size=4), json_values)
events = st.fixed_dictionaries(
    {
        "type": st.one_of(
            st.sampled_from(["connection", "walker", "user", "channel", "client", "change_user"]), json_values
        )
    },
    optional={
        "walker": st.one_of(
            st.sampled_from(["t_echo", "t_boom", "t_private_note", "t_rest_only", "nope"]), json_values
        ),
        "context": st.one_of(
            st.fixed_dictionaries({}, optional={"value": json_values, "label": json_values}), json_values
        ),
        "response": st.one_of(st.booleans(), json_values),
        "id": json_values,
        "node": json_values,
        "root_ids": st.one_of(st.lists(st.from_regex(r"(n::)?[0-9a-f]{24}", fullmatch=True), max_size=3), ids),
        "channel_ids": ids,
        "client_ids": ids,
        "data": json_values,
        "token": json_values,
    },
)
frames = st.one_of(
    events.map(lambda event: orjson.dumps(event).decode()),
    json_values.map(lambda value: orjson.dumps(value).decode()),
    st.text(max_size=120),
    st.binary(max_size=120),
    events.map(lambda event: orjson.dumps(event)),  # JSON in a binary frame
    st.integers(min_value=1, max_value=3000).map(Nested),
    st.integers(min_value=10_000, max_value=300_000).map(Huge),
)
SENT = {"frames": 0}


def check_answer(message: Any) -> None:
    assert isinstance(message, dict), message
    if message.get("type") == "connection":
        assert set(message["data"]) == {"client_id", "root_id", "channel_id"}
    elif "status" in message:
        assert message["status"] == 200 and isinstance(message["reports"], list)
    else:
        assert set(message) <= {"type", "error", "code", "details", "id"} and {"type", "error", "code"} <= set(message)
        assert message["type"] in ("error", "walker") and message["code"] in ERROR_CODES
        assert isinstance(message["error"], str)
        text = orjson.dumps({"error": message["error"], "details": message.get("details")}).decode()
        assert not any(leak in text for leak in LEAKY), message


@pytest.fixture(scope="module")
def fuzz_clients(fuzz_server: Server) -> Iterator[tuple[WS, WS]]:
    target = WS(fuzz_server.ws_url, channel_id=f"fuzz-{uuid.uuid4()}", max_size=None, ping_interval=None)
    bystander = WS(fuzz_server.ws_url, channel_id=f"bystander-{uuid.uuid4()}", ping_interval=None)
    yield target, bystander
    target.close()
    bystander.close()


@settings(
    max_examples=600,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(batch=st.lists(frames, min_size=17, max_size=25))
def test_fuzzed_frames_get_documented_answers_and_never_break_the_connection(
    fuzz_clients: tuple[WS, WS], batch: list[Any]
) -> None:
    target, _ = fuzz_clients
    for frame in batch:
        target.ws.send(frame.frame() if isinstance(frame, (Nested, Huge)) else frame)
    SENT["frames"] += len(batch)
    # Walker events are answered in order after everything before them: this answer closes the batch.
    target.send({"type": "walker", "walker": "t_echo", "context": {"value": 1}, "response": True, "id": "end"})
    while True:
        text = target.ws.recv(timeout=TIMEOUT)
        assert not any(leak in str(text) for leak in ("Traceback", 'File "')), text
        message = orjson.loads(text)
        if isinstance(message, dict) and message.get("id") == "end" and "status" in message:
            break
        check_answer(message)


def test_after_ten_thousand_fuzzed_frames_the_bystander_received_nothing(fuzz_clients: tuple[WS, WS]) -> None:
    target, bystander = fuzz_clients
    if SENT["frames"] == 0:  # selected on its own: fuzz first
        test_fuzzed_frames_get_documented_answers_and_never_break_the_connection(fuzz_clients)
    assert SENT["frames"] >= 10_000
    target.barrier()
    bystander.barrier()


# -- raw frames ---------------------------------------------------------------------------------------


class RawClient:
    """A websocket client on websockets' sans-I/O protocol and a plain socket: any frame, in any order."""

    def __init__(self, ws_url: str) -> None:
        uri = parse_uri(ws_url)
        self.sock = socket.create_connection((uri.host, uri.port), timeout=TIMEOUT)
        self.protocol = ClientProtocol(uri, max_size=None)
        self.protocol.send_request(self.protocol.connect())
        self.flush()
        self.events: list[Any] = []
        response = self.next_event()
        assert isinstance(response, Response) and response.status_code == 101

    def flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                try:
                    self.sock.sendall(data)
                except (BrokenPipeError, ConnectionResetError):  # the server closed first: fine
                    return

    def next_event(self) -> Any:
        while not self.events:
            data = self.sock.recv(65536)
            if not data:
                self.protocol.receive_eof()
            else:
                self.protocol.receive_data(data)
            self.events.extend(self.protocol.events_received())
            self.flush()
            if not data and not self.events:
                raise ConnectionError("closed")
        return self.events.pop(0)

    def next_frame(self) -> Frame:
        while True:
            event = self.next_event()
            if isinstance(event, Frame):
                return event

    def next_message(self) -> Any:
        frame = self.next_frame()
        assert frame.opcode is Opcode.TEXT, frame
        return orjson.loads(frame.data)

    def close_code(self) -> int | None:
        while True:
            frame = self.next_frame()
            if frame.opcode is Opcode.CLOSE:
                assert self.protocol.close_rcvd is not None
                return self.protocol.close_rcvd.code


def test_fragmented_messages_with_a_ping_in_between_are_reassembled(server: Server) -> None:
    raw = RawClient(server.ws_url)
    info = raw.next_message()["data"]
    raw.protocol.send_text(b'{"type": "conn', fin=False)
    raw.protocol.send_ping(b"are you there")
    raw.protocol.send_continuation(b'ection"}', fin=True)
    raw.flush()
    pong = raw.next_frame()
    assert pong.opcode is Opcode.PONG and pong.data == b"are you there"
    assert raw.next_message() == {"type": "connection", "data": info}
    raw.sock.close()


def test_invalid_utf8_in_a_text_frame_closes_with_1007(server: Server) -> None:
    raw = RawClient(server.ws_url)
    raw.next_message()
    raw.protocol.send_text(b'{"type": "\xff\xfe"}')
    raw.flush()
    assert raw.close_code() == 1007
    raw.sock.close()


def test_an_oversize_frame_closes_with_1009(server: Server) -> None:
    raw = RawClient(server.ws_url)
    raw.next_message()
    # Only the header of a 2 MiB text frame: the server must refuse it before reading the payload.
    raw.sock.sendall(b"\x81\xff" + (2 << 20).to_bytes(8, "big") + b"mask")
    assert raw.close_code() == 1009
    raw.sock.close()


def test_a_client_that_vanishes_without_a_close_frame_is_cleaned_up(server: Server) -> None:
    raw = RawClient(server.ws_url + "?channel_id=vanishing")
    client_id = raw.next_message()["data"]["client_id"]
    assert client_id in {c["client_id"] for c in server.snapshot()["connections"]}
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    raw.sock.close()  # a reset, no close frame
    wait_until(
        lambda: client_id not in {c["client_id"] for c in server.snapshot()["connections"]},
        "the vanished client is still registered",
    )
    assert "vanishing" not in server.snapshot()["channels"]


# -- limits --------------------------------------------------------------------------------------------


def test_connections_over_the_process_limit_are_refused_with_503() -> None:
    server = start(max_connections=3)
    try:
        clients = [WS(server.ws_url) for _ in range(3)]
        with pytest.raises(InvalidStatus) as refused:
            WS(server.ws_url)
        assert refused.value.response.status_code == 503
        assert b"Traceback" not in refused.value.response.body
        clients.pop().close()
        deadline = time.monotonic() + TIMEOUT
        while True:  # room again once the closed socket's TCP connection is gone too
            try:
                clients.append(WS(server.ws_url))
                break
            except InvalidStatus as busy:
                assert busy.response.status_code == 503 and time.monotonic() < deadline
        for client in clients:
            client.close()
    finally:
        server.stop()


def test_a_walker_over_its_time_limit_answers_walker_error_naming_the_timeout() -> None:
    server = start(walker_timeout=0.3)
    try:
        with WS(server.ws_url) as ws:
            for walker in ("t_slow", "t_sync_slow"):
                ws.walker(walker, request_id=walker, seconds=3)
                assert ws.recv() == {
                    "type": "walker",
                    "error": f"walker {walker} failed: it timed out after 0.3 s",
                    "code": "walker_error",
                    "id": walker,
                }
            assert ws.call("t_echo", value=1)["status"] == 200
    finally:
        server.stop()


def test_a_thousand_long_walkers_queue_on_the_bounded_pool_without_starving_the_loop() -> None:
    server = start(walker_threads=16, **UNLIMITED)
    callers = [WS(server.ws_url, channel_id="busy") for _ in range(50)]
    try:
        with WS(server.ws_url) as other:
            for n in range(20):  # 1,000 blocking walkers over 50 connections, 16 threads to run them
                for caller in callers:
                    caller.walker("t_sync_slow", request_id=n, seconds=0.05)
            other.send({"type": "channel", "channel_ids": ["busy"], "data": {"still": "served"}})
            assert other.call("t_echo", value=2)["status"] == 200  # answered while the walkers wait
            for caller in callers:
                answers = [caller.recv(timeout=30) for _ in range(21)]
                assert answers.index({"still": "served"}) < 20  # before this connection's last walker answer
                assert [a["id"] for a in answers if "id" in a] == list(range(20))
    finally:
        for caller in callers:
            caller.close()
        server.stop()


def test_the_authenticated_policy_refuses_anonymous_publishers_over_the_socket() -> None:
    server = start(policy="authenticated")
    try:
        login = register_and_login(server.url, "publisher@example.com")
        with WS(server.ws_url, channel_id="p") as anonymous, WS(server.ws_url, token=login["token"]) as user:
            anonymous.send({"type": "channel", "channel_ids": ["p"], "data": {"x": 1}})
            assert anonymous.recv()["code"] == "forbidden"
            user.send({"type": "channel", "channel_ids": ["p"], "data": {"x": 2}})
            assert anonymous.recv() == {"x": 2}
            quiet(anonymous, user)
    finally:
        server.stop()


def test_an_expired_token_turns_an_open_socket_anonymous_with_a_fresh_connection_event() -> None:
    # The token must still be valid when the socket opens: on a loaded machine, logging in (a password hash)
    # and connecting took over a second, so the lifetime leaves room for that.
    lifetime = 3.0
    server = start(token_lifetime=lifetime, sync_seconds=0.2)
    try:
        login = register_and_login(server.url, "expiring@example.com")
        with WS(server.ws_url, token=login["token"]) as ws:
            assert ws.root_id != PUBLIC_ROOT_ID
            event = ws.recv(timeout=lifetime + TIMEOUT)
            assert event == {
                "type": "connection",
                "data": {"client_id": ws.client_id, "root_id": PUBLIC_ROOT_ID, "channel_id": ws.channel_id},
            }
    finally:
        server.stop()


# -- leaks -----------------------------------------------------------------------------------------------


def test_ten_thousand_connect_disconnect_cycles_leave_no_entries_and_no_memory_behind() -> None:
    server = start(**UNLIMITED)
    try:
        token = register_and_login(server.url, "cycling@example.com")["token"]

        async def cycles(count: int) -> None:
            semaphore = asyncio.Semaphore(50)

            async def one(n: int) -> None:
                headers = {"Authorization": f"Bearer {token}"} if n % 3 == 0 else None
                url = f"{server.ws_url}?channel_id=room-{random.randrange(500)}"
                async with semaphore, async_connect(url, additional_headers=headers, open_timeout=TIMEOUT) as ws:
                    await asyncio.wait_for(ws.recv(), TIMEOUT)
                    if n % 5 == 0:
                        await ws.send('{"type": "channel", "channel_ids": ["elsewhere"], "data": {}}')

            await asyncio.gather(*(one(n) for n in range(count)))

        # In batches of 1,000, so the clients (in this same process) never hold more at once than during
        # the warm-up: what is measured is what the server keeps.
        for _ in range(5):  # warm up: allocator arenas, caches, dict sizes
            asyncio.run(cycles(1000))
        before = rss()
        for _ in range(10):
            asyncio.run(cycles(1000))
        wait_until(lambda: not server.snapshot()["connections"], "connections left behind")
        snapshot = server.snapshot()
        assert snapshot["connections"] == [] and snapshot["channels"] == {} and snapshot["users"] == {}
        assert server.hub.by_root == {}
        growth = rss() - before
        assert growth < 4 * 2**20, f"memory grew by {growth / 2**20:.1f} MB over 10,000 cycles"
    finally:
        server.stop()


def test_logs_never_contain_tokens_or_passwords(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = start(log_level="debug")
    try:
        password = "very-secret-password-123"
        login = register_and_login(server.url, "logged@example.com", password)
        token = login["token"]
        with WS(server.ws_url, token=token) as ws:
            ws.send({"type": "change_user", "token": f"Bearer {token}"})
            ws.recv()
            ws.call("t_boom")
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
            http.post("/walker/t_notes", headers={"Authorization": f"Bearer {token}"})
            http.post("/user/login", json={"email": "logged@example.com", "password": "wrong-" + password})
            http.post("/user/logout", headers={"Authorization": f"Bearer {token}"})
    finally:
        server.stop()
    server_loggers = ("jacws", "uvicorn", "fastapi", "starlette", "websockets.server")
    records = [r for r in caplog.records if r.name.startswith(server_loggers)]  # not the test's own clients
    text = "\n".join(record.getMessage() + str(record.exc_info or "") for record in records)
    assert len(records) > 10, "hardly anything was logged: the check would prove nothing"
    assert token not in text and token.split(".")[2] not in text and password not in text


# -- shutdown -----------------------------------------------------------------------------------------------


def test_stop_closes_every_socket_with_1001_within_five_seconds_while_walkers_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = start()
    clients = [WS(server.ws_url) for _ in range(5)]
    clients[0].walker("t_slow", seconds=30)  # on the loop: cancelled
    clients[1].walker("t_sync_slow", seconds=1)  # in a worker thread: finishes there
    assert clients[2].call("t_echo", value=1)["status"] == 200  # both walkers are running by now
    thread_name = f"jacws-server-{server.port}"
    began = time.monotonic()
    server.stop()
    assert time.monotonic() - began < 5
    for client in clients:
        with pytest.raises(ConnectionClosed):
            client.recv()
        assert client.ws.close_code == 1001
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert not [t for t in threading.enumerate() if t.name == thread_name]


def test_no_answer_names_the_server_software(server: Server) -> None:
    with WS(server.ws_url) as ws:
        assert ws.ws.response is not None
        handshake = {name.lower() for name in ws.ws.response.headers}
    assert "server" not in handshake
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        for path in ("/healthz", "/walkers", "/no-such-page", "/docs", "/openapi.json"):
            answer = http.get(path)
            assert "server" not in answer.headers and not any(leak in answer.text for leak in LEAKY), path
        assert http.get("/docs").status_code == 404 and http.get("/openapi.json").status_code == 404


def test_the_server_pings_idle_sockets_at_the_configured_interval() -> None:
    server = start(ping_interval=0.3)
    try:
        raw = RawClient(server.ws_url)
        raw.next_message()
        ping = raw.next_frame()  # the raw client answers pings (the sans-I/O protocol replies on its own)
        assert ping.opcode is Opcode.PING
        raw.sock.close()
    finally:
        server.stop()


# -- floods: one sender cannot get healthy readers closed ------------------------------------------


async def _reader(url: str, headers: dict[str, str] | None, expected: int) -> tuple[int, int | None]:
    """A client reading as fast as it can: how many flood messages it got, and its close code (None: open)."""
    got = 0
    async with async_connect(url, additional_headers=headers, open_timeout=TIMEOUT, max_size=None) as ws:
        await asyncio.wait_for(ws.recv(), TIMEOUT)
        try:
            while got < expected:
                frame = await asyncio.wait_for(ws.recv(), 30)
                if '"flood"' in frame[:20]:
                    got += 1
        except ConnectionClosed as closed:
            return got, closed.rcvd.code if closed.rcvd else 1006
    return got, None


@pytest.mark.parametrize("route", ["channel", "user", "client"])
def test_a_flood_of_one_megabyte_messages_gets_no_reader_closed(route: str) -> None:
    server = start()  # the default limits: the attack was made on them
    try:
        login = register_and_login(server.url, f"flood-{route}@example.com")

        async def attack() -> tuple[list[tuple[int, int | None]], float]:
            headers = {"Authorization": f"Bearer {login['token']}"} if route == "user" else None
            url = server.ws_url + "?channel_id=flooded"
            readers = [asyncio.ensure_future(_reader(url, headers, 40)) for _ in range(5)]
            while len(server.snapshot()["connections"]) < 5:  # (all five are in before the flood)
                await asyncio.sleep(0.01)
            ids = [c["client_id"] for c in server.snapshot()["connections"]]
            targets = {"channel": ("channel_ids", ["flooded"]), "user": ("root_ids", [login["user"]["root_id"]])}
            key, values = targets.get(route, ("client_ids", ids))
            event = orjson.dumps({"type": route, key: values, "data": {"flood": "x" * 1_000_000}}).decode()  # 1 MB
            async with async_connect(server.ws_url, open_timeout=TIMEOUT, max_size=None) as flooder:
                await flooder.recv()
                started = time.monotonic()
                for _ in range(40):  # 40 x 1 MB, as fast as the socket takes them
                    await flooder.send(event)
                results = await asyncio.wait_for(asyncio.gather(*readers), 60)
                return results, time.monotonic() - started

        results, _seconds = asyncio.run(attack())
        assert results == [(40, None)] * 5  # every reader got every message and is still open
        numbers = server.metrics()
        assert numbers["closed_by_server"] == {} and numbers["publishers_held"] > 0  # the flooder was slowed
    finally:
        server.stop()


def test_under_a_flood_the_reader_that_stops_is_closed_within_ten_seconds_and_the_others_get_everything() -> None:
    server = start(**UNLIMITED)
    try:

        async def scene() -> tuple[list[tuple[int, int | None]], float | None]:
            url = server.ws_url + "?channel_id=mixed"
            readers = [asyncio.ensure_future(_reader(url, None, 600)) for _ in range(4)]
            stalled = socket.create_connection(("127.0.0.1", server.port or 0))  # a client that stops reading
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            handshake = (
                "GET /websocket?channel_id=mixed HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            )
            stalled.sendall(handshake.encode())
            while len(server.snapshot()["connections"]) < 5:
                await asyncio.sleep(0.01)
            event = orjson.dumps({"type": "channel", "channel_ids": ["mixed"], "data": {"flood": "x" * 65536}}).decode()
            started = time.monotonic()
            closed_after = None
            async with async_connect(server.ws_url, open_timeout=TIMEOUT, max_size=None) as flooder:
                await flooder.recv()
                for _ in range(600):  # 600 x 64 KB: some 40 MB for each of them
                    await flooder.send(event)
                results = await asyncio.wait_for(asyncio.gather(*readers), 60)
                deadline = started + 10
                while time.monotonic() < deadline and server.metrics()["closed_by_server"].get("1008") != 1:
                    await asyncio.sleep(0.05)
                if server.metrics()["closed_by_server"].get("1008") == 1:
                    closed_after = time.monotonic() - started
            stalled.close()
            return results, closed_after

        results, closed_after = asyncio.run(scene())
        assert results == [(600, None)] * 4
        assert closed_after is not None and closed_after < 10, server.metrics()["closed_by_server"]
    finally:
        server.stop()


# -- logins: no brute force, no flood that delays logout ------------------------------------------


def test_three_hundred_wrong_guesses_are_throttled_before_any_hashing() -> None:
    server = start()
    try:
        register_and_login(server.url, "victim@example.com")
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
            started = time.monotonic()
            answers = [
                http.post("/user/login", json={"email": "victim@example.com", "password": f"guess-{n}"})
                for n in range(300)
            ]
            seconds = time.monotonic() - started
            codes = [a.status_code for a in answers]
            assert codes[:5] == [400] * 5 and set(codes[5:]) == {429}
            throttled = answers[5]
            assert throttled.json()["code"] == "rate_limited" and int(throttled.headers["retry-after"]) >= 1
            assert seconds < 5 * 0.5 + 295 * 0.05  # five hash checks, then answers that cost no hashing
            right = http.post("/user/login", json={"email": "victim@example.com", "password": "s3cret-pass"})
            assert right.status_code == 429  # the account waits, whoever asks
    finally:
        server.stop()


def test_a_flood_of_logins_from_many_addresses_never_delays_logout_and_the_token_dies_with_it() -> None:
    server = start(**UNLIMITED)
    try:
        login = register_and_login(server.url, "leaving@example.com")
        token = login["token"]

        async def flood_and_logout() -> tuple[float, list[int]]:
            clients = [
                httpx.AsyncClient(
                    base_url=server.url, timeout=30, transport=httpx.AsyncHTTPTransport(local_address=f"127.0.1.{n}")
                )
                for n in range(1, 65)
            ]
            try:
                guesses = [
                    asyncio.ensure_future(
                        client.post(
                            "/user/login", json={"email": f"nobody{n}@example.com", "password": "wrong-password"}
                        )
                    )
                    for n, client in enumerate(clients)
                ]
                await asyncio.sleep(0.05)  # the flood is under way (this is a load, not a synchronisation)
                async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
                    started = time.monotonic()
                    out = await http.post("/user/logout", headers={"Authorization": f"Bearer {token}"})
                    took = time.monotonic() - started
                    assert out.status_code == 200
                    refused = await http.post(
                        "/walker/t_private_note", json={}, headers={"Authorization": f"Bearer {token}"}
                    )
                    assert refused.status_code == 401
                codes = [answer.status_code for answer in await asyncio.gather(*guesses)]
                return took, codes
            finally:
                for client in clients:
                    await client.aclose()

        took, codes = asyncio.run(flood_and_logout())
        assert took < 1.0, f"logout took {took:.2f} s during the flood"
        assert set(codes) <= {400, 503} and 400 in codes  # checked, or turned away while the checks queue is full
        with WS(server.ws_url, token=token) as ws:  # the socket does not take it either
            assert ws.root_id == PUBLIC_ROOT_ID
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("password", "accepted"), [("seven77", False), ("eight888", True), ("x" * 1025, False)], ids=["7", "8", "1025"]
)
def test_passwords_have_eight_to_1024_characters(server: Server, password: str, accepted: bool) -> None:
    email = f"len{len(password)}@example.com"
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        answer = http.post("/user/register", json={"email": email, "password": password})
    if accepted:
        assert answer.status_code == 201
    else:
        assert answer.status_code == 422
        assert answer.json()["detail"] == [{"loc": ["password"], "msg": "must be 8 to 1024 characters"}]


# -- a walker past its time limit keeps no change ---------------------------------------------------


@pytest.mark.parametrize("transport", ["socket", "rest"])
def test_a_walker_keeps_its_changes_only_when_it_answers_success_whatever_the_timing(transport: str) -> None:
    server = start(walker_timeout=0.15, **UNLIMITED)
    try:
        login = register_and_login(server.url, f"timing-{transport}@example.com")
        root_id = "n::" + login["user"]["root_id"]
        store = server.runtime.store if server.runtime is not None else None
        assert store is not None
        outcomes = []
        with WS(server.ws_url, token=login["token"]) as ws, httpx.Client(base_url=server.url, timeout=60) as http:
            for count in (500, 1000, 2000, 4000, 8000, 16000, 32000):  # from well within the limit to well past it
                before = len(store.load_graph(root_id)[0])
                if transport == "socket":
                    answer = ws.call("t_many", count=count)
                else:
                    answer = http.post("/walker/t_many", json={"count": count}, headers=bearer(login)).json()
                after = len(store.load_graph(root_id)[0])
                ok = answer.get("status") == 200
                outcomes.append((count, ok))
                assert after - before == (count if ok else 0), (count, answer, before, after)
        assert any(ok for _, ok in outcomes) and not all(ok for _, ok in outcomes), outcomes
    finally:
        server.stop()


def bearer(login: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {login['token']}"}


# -- deep JSON: one limit, one answer ---------------------------------------------------------------


def nested_frame(levels: int) -> str:
    """A channel event whose data nests ``levels`` objects, each with a string full of brackets and quotes."""
    unit = '{"s": ' + orjson.dumps('[[[{{{"\\').decode() + ', "x": '
    data = unit * (levels - 1) + "{}" + "}" * (levels - 1)
    return '{"type": "channel", "channel_ids": ["deep"], "data": ' + data + "}"


def test_frames_nested_past_the_limit_get_too_large_and_nothing_is_logged_at_error_level(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    frame = nested_frame(300)  # past the limit, and past what orjson can encode again (254)
    caplog.set_level(logging.DEBUG, logger="jacws")
    with WS(server.ws_url, channel_id="deep") as ws, WS(server.ws_url, channel_id="deep") as bystander:
        for _ in range(1500):
            ws.ws.send(frame)
        answers = [ws.recv() for _ in range(1500)]
        assert {(a["code"], a["error"]) for a in answers} == {
            ("too_large", "the event nests arrays and objects more than 128 levels deep")
        }
        ws.barrier()  # the connection is still fine
        bystander.barrier()  # and the bystander got nothing
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_nesting_up_to_the_limit_is_delivered_as_it_is(server: Server) -> None:
    with WS(server.ws_url, channel_id="deep") as ws:
        ws.ws.send(nested_frame(127))  # the event object and 127 levels of data: 128
        got, depth = ws.recv(), 1
        while got["x"]:
            got, depth = got["x"], depth + 1
        assert depth == 126 and got["s"] == '[[[{{{"\\' and got["x"] == {}  # 126 with a string, then {}


# -- one address cannot take every slot; budgets outlive reconnects ----------------------------------


def _refusal(error: InvalidStatus) -> tuple[int, str]:
    return error.response.status_code, orjson.loads(error.response.body)["code"]


def test_one_address_gets_its_share_of_sockets_and_every_other_address_still_connects() -> None:
    server = start()  # the defaults: 10,000 sockets, 256 from one address

    async def open_all_from_one_address() -> tuple[int, tuple[int, str], list[int]]:
        opened: list[Any] = []
        try:
            while True:  # the attack: one address opening sockets as fast as it can
                try:
                    opened.append(await async_connect(server.ws_url, open_timeout=TIMEOUT, ping_interval=None))
                except InvalidStatus as refused:
                    count, refusal = len(opened), _refusal(refused)
                    break
                assert len(opened) <= 10_000, "one address took every slot"
            async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
                http_answer = await http.get("/healthz")  # its HTTP connections count too
            others = []
            for n in (2, 3):
                async with async_connect(
                    server.ws_url, open_timeout=TIMEOUT, ping_interval=None, local_addr=(f"127.0.0.{n}", 0)
                ) as other:
                    others.append(orjson.loads(await asyncio.wait_for(other.recv(), TIMEOUT))["type"] == "connection")
            return count, refusal, [http_answer.status_code, *others]
        finally:
            await asyncio.gather(*(ws.close() for ws in opened))

    try:
        count, refusal, after = asyncio.run(open_all_from_one_address())
        assert count == 256 and refusal == (429, "too_many_connections")
        assert after == [429, True, True]
    finally:
        server.stop()


def test_behind_a_trusted_proxy_each_forwarded_client_gets_its_share_and_others_cannot_pretend() -> None:
    server = start(trusted_proxies=("127.0.0.1",), max_connections_per_address=3, **UNLIMITED)

    def socket_from(source: str, forwarded: str) -> WS:
        return WS(server.ws_url, source_address=(source, 0), additional_headers={"X-Forwarded-For": forwarded})

    try:
        proxied = [socket_from("127.0.0.1", "203.0.113.5") for _ in range(3)]
        with pytest.raises(InvalidStatus) as crowded:
            socket_from("127.0.0.1", "203.0.113.5")
        assert _refusal(crowded.value) == (429, "too_many_connections")
        proxied.append(socket_from("127.0.0.1", "203.0.113.6"))  # the proxy's other clients are not its victims
        spoofers = [socket_from("127.0.0.2", f"198.51.100.{n}") for n in range(3)]  # not a trusted proxy
        with pytest.raises(InvalidStatus) as spoofed:
            socket_from("127.0.0.2", "198.51.100.99")
        assert _refusal(spoofed.value)[0] == 429
        for ws in proxied + spoofers:
            ws.close()
    finally:
        server.stop()


def test_failed_logins_are_counted_against_the_forwarded_client_behind_a_trusted_proxy() -> None:
    server = start(trusted_proxies=("127.0.0.0/8",), login_failures_per_address=3, login_free_failures=100)
    try:
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:

            def guess(n: int, client: str) -> int:
                body = {"email": f"nobody{n}@example.com", "password": "wrong-password"}
                return http.post("/user/login", json=body, headers={"X-Forwarded-For": client}).status_code

            assert [guess(n, "203.0.113.5") for n in range(4)] == [400, 400, 400, 429]
            assert guess(9, "203.0.113.6") == 400  # another client of the same proxy is not locked out
    finally:
        server.stop()


def test_reconnecting_does_not_refill_a_senders_message_budget() -> None:
    # 5 messages at once, then one every 5 s: a reconnect within seconds finds the budget spent.
    server = start(rate_per_second=0.2, rate_burst=5, rate_grace_seconds=30)
    try:

        def spend(ws: WS) -> list[str]:
            for _ in range(6):
                ws.send({"type": "connection"})
            return [ws.recv().get("code", "answered") for _ in range(6)]

        with WS(server.ws_url) as first:
            assert spend(first) == ["answered"] * 5 + ["rate_limited"]
        with WS(server.ws_url) as again:  # the same address, a new socket
            again.send({"type": "connection"})
            assert again.recv()["code"] == "rate_limited"
        with WS(server.ws_url, source_address=("127.0.0.2", 0)) as elsewhere:
            elsewhere.barrier()  # another address has its own budget

        token = register_and_login(server.url, "sender@example.com")["token"]
        with WS(server.ws_url, token=token) as user:
            assert spend(user) == ["answered"] * 5 + ["rate_limited"]
        with WS(server.ws_url, token=token, source_address=("127.0.0.3", 0)) as user_elsewhere:
            user_elsewhere.send({"type": "connection"})
            assert user_elsewhere.recv()["code"] == "rate_limited"  # a user's budget follows the user
    finally:
        server.stop()


# -- smaller holes ---------------------------------------------------------------------------------------


def test_rest_walker_runs_are_capped_per_user_and_per_server() -> None:
    server = start(max_rest_walkers=5, max_rest_walkers_per_user=2)
    tokens = [register_and_login(server.url, f"runner{n}@example.com")["token"] for n in range(3)]

    async def flood() -> dict[str, list[int]]:
        async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:

            def run(token: str | None) -> Any:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                return http.post("/walker/t_rest_sleep", json={"seconds": 1.5}, headers=headers)

            # one user asks for 4 at once, an anonymous address for 3; then two more users, 2 each
            first = await asyncio.gather(*(run(tokens[0]) for _ in range(4)), *(run(None) for _ in range(3)))
            return {
                "user": sorted(r.status_code for r in first[:4]),
                "anonymous": sorted(r.status_code for r in first[4:]),
                "codes": sorted({r.json()["code"] for r in first if r.status_code != 200}),
            }

    async def server_cap() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
            calls = [
                http.post("/walker/t_rest_sleep", json={"seconds": 1.5}, headers={"Authorization": f"Bearer {token}"})
                for token in tokens
                for _ in range(2)
            ]
            return sorted(r.status_code for r in await asyncio.gather(*calls))

    try:
        per_user = asyncio.run(flood())
        assert per_user["user"] == [200, 200, 429, 429] and per_user["anonymous"] == [200, 200, 429]
        assert per_user["codes"] == ["rate_limited"]
        assert asyncio.run(server_cap()) == [200] * 5 + [503]  # 6 wanted at once, 5 may run
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("email", "why"),
    [
        ("<img/src=x/onerror=alert(1)>@x.yz", "must be an email address: "),
        ("nul\x00byte@example.com", "invalid characters before the @-sign: U+0000"),
        ("evil\u202emoc.elgoog@example.com", "unsafe characters: RIGHT-TO-LEFT OVERRIDE"),
        ("no-domain@localhost", "must be an email address: "),
        ("a" * 250 + "@example.com", "at most 254 characters"),
    ],
    ids=["markup", "nul", "rtl-override", "no-dot", "too-long"],
)
def test_registration_takes_only_real_email_addresses(server: Server, email: str, why: str) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        answer = http.post("/user/register", json={"email": email, "password": "s3cret-pass"})
    assert answer.status_code == 422
    (detail,) = answer.json()["detail"]
    assert detail["loc"] == ["email"] and why in detail["msg"], detail

"""Simulated clients against a real server: every method, inbox order, waits, reconnects."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest

import jacws
from jacws.client import Client, ClientClosed, ClientState, Message
from jacws.errors import JacWSError
from jacws.protocol import PUBLIC_ROOT_ID
from jacws.server import Server


def is_chat(message: Any) -> bool:
    return bool(message.get("type") == "chat")


def test_server_client_registers_logs_in_and_connects(server: Server) -> None:
    alice = server.client(user="client-alice@example.com", channel_id="c-room")
    try:
        assert alice.state is ClientState.OPEN and alice.channel_id == "c-room"
        assert alice.root_id != PUBLIC_ROOT_ID and alice.token and not alice.anonymous
        assert alice.name == "client-alice@example.com" and alice in server.clients
        again = server.client(user="client-alice@example.com")  # an existing user just logs in
        assert again.root_id == alice.root_id
        again.close()
        first = alice.inbox[0]
        assert isinstance(first, Message) and first.kind == "connection" and first.data["data"] == alice.info
    finally:
        alice.close()


def test_every_event_method_reaches_its_targets(server: Server) -> None:
    alice = server.client(user="client-alice@example.com", channel_id="c-all")
    guest = server.client(channel_id="c-all")
    try:
        alice.channel(["c-all"], {"type": "chat", "n": 1})
        assert guest.wait_for(is_chat) == {"type": "chat", "n": 1}
        guest.user([alice.root_id], {"type": "chat", "n": 2})
        assert alice.wait_for(lambda m: m.get("n") == 2) == {"type": "chat", "n": 2}
        alice.client([guest.client_id], {"type": "chat", "n": 3})
        assert guest.wait_for(is_chat) == {"type": "chat", "n": 3}
        assert guest.connection() == guest.info
        call = guest.walker("t_echo", value=4)
        assert call.result() == {"status": 200, "reports": [{"value": 4, "label": "x"}], "id": call.request_id}
        assert call.rtt is not None and call.rtt >= 0
        quiet_call = guest.walker("t_progress", response=False, steps=1)
        assert quiet_call.done() and quiet_call.result() is None
        assert guest.wait_for(lambda m: m.get("status") == "inprogress") == {"progress": "0", "status": "inprogress"}
        assert guest.rest("t_echo", value=5) == {"status": 200, "reports": [{"value": 5, "label": "x"}]}
        assert [s.event["type"] for s in guest.sent] == ["user", "connection", "walker", "walker"]
    finally:
        alice.close()
        guest.close()


def test_change_user_from_anonymous_to_a_user_and_back(server: Server) -> None:
    alice = server.client(user="client-alice@example.com")
    guest = server.client()
    try:
        assert guest.anonymous
        info = guest.change_user(alice.token, email="client-alice@example.com")
        assert info["root_id"] == alice.root_id and info["client_id"] == guest.client_id
        assert guest.root_id == alice.root_id and guest.token == alice.token
        assert guest.walker("t_whoami").result()["reports"] == [alice.root_id]
        assert guest.change_user()["root_id"] == PUBLIC_ROOT_ID and guest.token is None
    finally:
        alice.close()
        guest.close()


def test_inbox_keeps_order_with_receive_times(server: Server) -> None:
    receiver = server.client(channel_id="c-order")
    sender = server.client()
    try:
        for n in range(200):
            sender.channel(["c-order"], {"n": n})
        receiver.wait_for(lambda m: m.get("n") == 199)
        messages = receiver.inbox[1:]
        assert [m.data["n"] for m in messages] == list(range(200))
        assert all(a.received_at <= b.received_at for a, b in itertools.pairwise(messages))
        assert receiver.messages(kind="notification")[0] == {"n": 0}
    finally:
        receiver.close()
        sender.close()


def test_wait_for_returns_each_message_once_and_times_out_clearly(server: Server) -> None:
    receiver = server.client(channel_id="c-wait")
    try:
        server.notify_channels(["c-wait"], {"type": "chat", "n": 1})
        server.notify_channels(["c-wait"], {"type": "other"})
        server.notify_channels(["c-wait"], {"type": "chat", "n": 2})
        assert receiver.wait_for(is_chat)["n"] == 1
        assert receiver.wait_for(is_chat)["n"] == 2
        assert receiver.wait_for(lambda m: m.get("type") == "other") == {"type": "other"}
        with pytest.raises(TimeoutError, match=r"no matching message within 0\.2 s"):
            receiver.wait_for(is_chat, timeout=0.2)
    finally:
        receiver.close()


def test_callbacks_see_every_message_and_state_change(server: Server) -> None:
    seen: list[Any] = []
    states: list[ClientState] = []
    done = threading.Event()
    client = Client(server.ws_url, channel_id="c-cb", connect=False)
    client.on_message(lambda c, m: (seen.append(m.data), done.set() if m.data.get("last") else None))
    client.on_state(lambda c: states.append(c.state))
    client.connect()
    server.notify_channels(["c-cb"], {"last": True})
    assert done.wait(5)
    client.close()
    assert seen[0]["type"] == "connection" and seen[-1] == {"last": True}
    assert states == [ClientState.CONNECTING, ClientState.OPEN, ClientState.CLOSED]
    assert client.close_code == 1000


def test_a_server_stop_shows_as_closed_1001_and_reconnect_works_after_a_restart() -> None:
    server = jacws.start()
    alice = server.client(user="restart@example.com", channel_id="r")
    guest = server.client(channel_id="r")
    pending = alice.walker("t_slow", seconds=5)
    server.restart()
    try:
        assert alice.wait_closed() == 1001 and guest.wait_closed() == 1001
        assert alice.state is ClientState.CLOSED
        with pytest.raises(ClientClosed, match="reconnect"):
            guest.channel(["r"], {})
        with pytest.raises(ClientClosed):
            pending.result()
        old_id = guest.client_id
        guest.reconnect()
        assert guest.state is ClientState.OPEN and guest.client_id != old_id and guest.channel_id == "r"
        alice.reconnect()  # the in-memory store is new: alice's old token is now anonymous
        assert alice.anonymous
    finally:
        server.stop()


def test_connecting_to_nothing_raises_a_clear_error() -> None:
    with pytest.raises(JacWSError, match="could not connect"):
        Client("ws://127.0.0.1:1/websocket", timeout=2)


def test_a_peer_cannot_break_or_answer_a_clients_walker_calls(server: Server) -> None:
    victim = server.client(channel_id="spoof")
    attacker = server.client()
    try:
        pending = victim.walker("t_slow", seconds=0.5)
        attacker.channel(["spoof"], {"id": [1], "status": 200, "reports": []})  # unhashable id
        attacker.channel(["spoof"], {"status": 200, "reports": ["fake"], "id": "guest-1"})  # a guessed id
        assert victim.wait_for(lambda m: m.get("reports") == ["fake"]) is not None
        assert pending.result()["reports"] == ["slept"]  # the real answer, not the spoof
        assert victim.state is ClientState.OPEN
    finally:
        victim.close()
        attacker.close()


def test_subscribing_while_messages_stream_sees_each_one_exactly_once(server: Server) -> None:
    receiver = server.client(channel_id="c-stream")
    sender = Client(server.ws_url)
    seen: list[list[int]] = []

    def subscribe() -> None:
        got: list[int] = []
        earlier, _ = receiver.subscribe(on_message=lambda _client, message: got.append(message.index))
        got[:0] = [message.index for message in earlier]
        seen.append(got)

    try:
        for n in range(1500):
            sender.channel(["c-stream"], {"n": n})
            if n % 50 == 0:
                subscribe()  # in the middle of the stream: the loop thread is appending meanwhile
        receiver.wait_for(lambda m: m.get("n") == 1499, timeout=30)
        total = list(range(len(receiver.inbox)))
        assert len(seen) == 30
        for got in seen:
            assert sorted(got) == total, "a subscriber missed or repeated a message"
    finally:
        receiver.close()
        sender.close()


def test_a_peer_cannot_pass_its_data_off_as_a_connection_event_or_an_answer(server: Server) -> None:
    alice = server.client(channel_id="c-forge")
    mallory = server.client(channel_id="c-forge")
    try:
        info = dict(alice.info)
        call = alice.walker("t_slow", seconds=0.5)
        forged = {"type": "connection", "data": {"client_id": "x", "root_id": "n::" + "f" * 24, "channel_id": "y"}}
        mallory.channel(["c-forge"], forged)
        mallory.channel(["c-forge"], {"status": 200, "reports": ["forged"], "id": call.request_id})
        alice.wait_for(lambda m: m.get("reports") == ["forged"])
        assert alice.info == info and alice.client_id == info["client_id"]
        assert call.result()["reports"] != ["forged"]  # the real answer, not the peer's
        [fake] = [m for m in alice.inbox if m.data == forged]
        assert fake.kind == "connection" and fake.cause is not None and fake.cause.route == "channel"
    finally:
        alice.close()
        mallory.close()

"""A recorded session: its steps in order and what each caused (jacws.session)."""

from __future__ import annotations

import pytest

from jacws.server import Server
from jacws.session import record

pytestmark = pytest.mark.jacws_walkers("session_walkers.py")


def test_steps_come_in_time_order_and_each_message_belongs_to_the_step_that_caused_it(jacws_server: Server) -> None:
    alice = jacws_server.client(user="alice@example.com", channel_id="lobby")
    guest = jacws_server.client(channel_id="lobby")
    alice.walker("s_greet", name="Ada").result()
    guest.wait_for(lambda m: m.get("type") == "greeting")
    guest.channel(["lobby"], {"type": "chat"})
    alice.wait_for(lambda m: m.get("type") == "chat")
    guest.reconnect()
    recording = record([guest, alice])  # the session's order is the order of connecting
    assert recording.clients == [alice, guest]
    steps = [(step.client.name, step.event["type"] if step.event else "connect") for step in recording.steps]
    assert steps == [
        ("alice@example.com", "connect"),
        (guest.name, "connect"),
        ("alice@example.com", "walker"),
        (guest.name, "channel"),
        (guest.name, "connect"),
    ]
    walker, chat = recording.steps[2], recording.steps[3]
    assert recording.counts(walker) == {"alice@example.com": 2, guest.name: 1}  # greeting + answer; greeting
    assert [e.message.type for e in recording.effects_of(walker) if e.client is alice] == ["greeting", None]
    assert recording.counts(chat) == {"alice@example.com": 1, guest.name: 1}
    assert recording.counts(recording.steps[4]) == {guest.name: 1} and not recording.unexplained


def test_what_rest_calls_and_the_server_send_is_unexplained(jacws_server: Server) -> None:
    alice = jacws_server.client(user="alice@example.com", channel_id="lobby")
    alice.rest("s_greet", name="REST")
    alice.wait_for(lambda m: m.get("text") == "hello REST")
    jacws_server.notify_channels(["lobby"], {"type": "announce"})
    alice.wait_for(lambda m: m.get("type") == "announce")
    recording = record([alice])
    assert len(recording.steps) == 1  # connecting: the only thing a replay can repeat
    assert [e.message.type for e in recording.unexplained] == ["greeting", "announce"]

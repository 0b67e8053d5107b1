"""The message-flow model: sends and receipts become arrows between lanes."""

from __future__ import annotations

from typing import Any

from jacws.client import Message, Sent
from jacws.traffic import SERVER, Traffic


class Named:
    """Stands in for a client: the model only needs a name and callback registration."""

    def __init__(self, name: str) -> None:
        self.name = name

    def on_send(self, callback: Any) -> None:
        pass

    def on_message(self, callback: Any) -> None:
        pass


def test_deliveries_are_traced_to_the_sender_once_per_receiver() -> None:
    now = [100.0]
    traffic = Traffic(clock=lambda: now[0])
    alice, bob, carol = Named("alice"), Named("bob"), Named("carol")
    for client in (alice, bob, carol):
        traffic.watch(client)  # type: ignore[arg-type]
    data = {"type": "chat", "text": "hi"}
    traffic.record_sent(alice, Sent({"type": "channel", "channel_ids": ["room"], "data": data}, 100.0))  # type: ignore[arg-type]
    traffic.record_received(bob, Message(data, 100.1, 1))  # type: ignore[arg-type]
    traffic.record_received(carol, Message(data, 100.1, 1))  # type: ignore[arg-type]
    traffic.record_received(bob, Message(data, 100.2, 2))  # type: ignore[arg-type]  # a second copy: not from alice
    flows = [(f.source, f.target, f.kind, f.label, f.route) for f in traffic.flows]
    assert flows == [
        ("alice", SERVER, "channel", "chat", "channel room"),
        ("alice", "bob", "channel", "chat", "channel room"),
        ("alice", "carol", "channel", "chat", "channel room"),
        (SERVER, "bob", "notify", "chat", "notify"),
    ]
    assert traffic.route_of(bob, Message(data, 0, 1)) == "channel room"  # type: ignore[arg-type]
    assert traffic.total == 4


def test_walker_events_answers_errors_and_old_sends() -> None:
    traffic = Traffic(keep=3)
    alice, bob = Named("alice"), Named("bob")
    traffic.record_sent(alice, Sent({"type": "walker", "walker": "w", "context": {}}, 1.0))  # type: ignore[arg-type]
    traffic.record_received(alice, Message({"status": 200, "reports": [1, 2]}, 1.1, 1))  # type: ignore[arg-type]
    traffic.record_received(alice, Message({"type": "walker", "error": "x", "code": "forbidden"}, 1.2, 2))  # type: ignore[arg-type]
    traffic.record_sent(alice, Sent({"type": "user", "root_ids": ["n::1"], "data": {"n": 1}}, 1.0))  # type: ignore[arg-type]
    traffic.record_received(bob, Message({"n": 1}, 50.0, 1))  # type: ignore[arg-type]  # too late to be traced
    assert [(f.kind, f.label) for f in traffic.flows] == [
        ("error", "error forbidden"),
        ("user", '{"n":1}'),
        ("notify", '{"n":1}'),
    ]
    assert traffic.total == 5

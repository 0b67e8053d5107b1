"""The message-flow model: sends and receipts become arrows between lanes, each receipt with its route and cause."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from jacws.client import Client, Message, Sent
from jacws.server import Server
from jacws.traffic import MATCH_WINDOW, MAX_REMEMBERED, SERVER, Flow, Traffic

# -- inference (a server in another process: no exact causes) ---------------------------


class Named:
    """Stands in for a client of a remote server: a name, ids and callback registration."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.client_id = self.root_id = self.email = None

    def on_send(self, callback: Any) -> None:
        pass

    def on_message(self, callback: Any) -> None:
        pass

    def subscribe(self, **callbacks: Any) -> tuple[list[Any], list[Any]]:
        return [], []


def test_without_causes_deliveries_are_traced_to_the_sender_by_their_data_once_per_receiver() -> None:
    traffic = Traffic()
    alice, bob, carol = Named("alice"), Named("bob"), Named("carol")
    for client in (alice, bob, carol):
        traffic.watch(client)  # type: ignore[arg-type]
    data = {"type": "chat", "text": "hi"}
    traffic.record_sent(alice, Sent({"type": "channel", "channel_ids": ["room"], "data": data}, 100.0))  # type: ignore[arg-type]
    traffic.record_received(bob, Message(data, 100.1, 1))  # type: ignore[arg-type]
    traffic.record_received(carol, Message(data, 100.1, 1))  # type: ignore[arg-type]
    traffic.record_received(bob, Message(data, 100.2, 2))  # type: ignore[arg-type]  # a second copy: not from alice
    flows = [(f.source, f.target, f.kind, f.label, f.route, f.cause) for f in traffic.flows]
    assert flows == [
        ("alice", SERVER, "channel", "chat", "channel room", None),
        ("alice", "bob", "channel", "chat", "channel room", 1),
        ("alice", "carol", "channel", "chat", "channel room", 1),
        (SERVER, "bob", "notification", "chat", "from the server", None),
    ]
    route = traffic.route_of(bob, Message(data, 0, 1))  # type: ignore[arg-type]
    assert (route.kind, route.text, route.sender) == ("channel", "channel room · from alice", "alice")
    assert traffic.flows[1].latency == pytest.approx(0.1)
    assert traffic.total == 4


def test_without_causes_answers_and_errors_are_told_apart_and_old_sends_are_not_matched() -> None:
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
        ("notification", '{"n":1}'),
    ]
    assert traffic.total == 5
    assert [f.seq for f in traffic.flows_after(3)] == [4, 5] and traffic.flows_after(5) == []


def test_sends_nobody_receives_are_forgotten_by_age_and_by_count() -> None:
    traffic = Traffic(keep=10)
    alice = Named("alice")
    for n in range(MAX_REMEMBERED + 500):  # client events to nobody: no receipt will ever match them
        event = {"type": "client", "client_ids": ["nobody"], "data": {"n": n}}
        traffic.record_sent(alice, Sent(event, 1000.0 + n * 1e-4))  # type: ignore[arg-type]
    assert traffic.remembered_sends() <= MAX_REMEMBERED  # bounded by count while they keep coming
    late = {"type": "client", "client_ids": ["nobody"], "data": {"late": True}}
    traffic.record_sent(alice, Sent(late, 1000.0 + MATCH_WINDOW + 60))  # type: ignore[arg-type]
    assert traffic.remembered_sends() == 1  # and by age: only the last one is young enough to match


# -- exact causes (the server runs in this process) ---------------------------------------


@pytest.fixture
def four(server: Server) -> Iterator[list[Client]]:
    """alice and bob (users), a guest and carol (anonymous), all on one fresh channel."""
    channel = f"traffic-{time.monotonic_ns()}"
    clients = [
        server.client(user="tr-alice@example.com", channel_id=channel, name="alice"),
        server.client(user="tr-bob@example.com", channel_id=channel, name="bob"),
        server.client(channel_id=channel, name="guest"),
        server.client(channel_id=channel, name="carol"),
    ]
    yield clients
    for client in clients:
        client.close()


def received(traffic: Traffic, target: str, kind: str | None = None) -> list[Flow]:
    return [f for f in traffic.flows if f.target == target and (kind is None or f.kind == kind)]


def sent_flow(traffic: Traffic, seq: int | None) -> Flow:
    flow = next(f for f in traffic.flows if f.seq == seq)
    assert flow.target == SERVER
    return flow


def test_every_receipt_names_its_route_and_the_send_that_caused_it(server: Server, four: list[Client]) -> None:
    alice, bob, guest, carol = four
    traffic = Traffic(four)
    same = {"type": "chat", "data": {"message": "string"}}  # the seed's walker sends exactly this: only causes tell
    alice.channel([alice.channel_id], same)
    for client in four:
        client.wait_for(lambda m: m == same)
    alice.walker("t_notify", kind="channels", ids=[alice.channel_id], data=same).result()
    for client in four:
        client.wait_for(lambda m: m == same)
    bob.user([alice.root_id], {"type": "dm"})
    alice.wait_for(lambda m: m.get("type") == "dm")
    guest.client([carol.client_id], {"type": "psst"})
    carol.wait_for(lambda m: m.get("type") == "psst")
    server.notify_clients([bob.client_id], {"type": "news"})
    bob.wait_for(lambda m: m.get("type") == "news")
    assert alice.rest("t_notify", kind="users", ids=[bob.root_id], data={"type": "rest"})["status"] == 200
    bob.wait_for(lambda m: m.get("type") == "rest")
    guest.walker("t_progress", steps=2).result()
    guest.send({"type": "bogus"})
    guest.wait_for(lambda m: m.get("code") == "invalid_event")
    guest.connection()

    bob_flows = [(f.source, f.kind, f.label, f.route) for f in received(traffic, "bob")]
    assert bob_flows == [
        (SERVER, "connection", "connection", "on connecting"),  # from before the model was made: taken in
        ("alice", "channel", "chat", f"channel {alice.channel_id}"),
        (SERVER, "channel", "chat", f"channel {alice.channel_id} · walker t_notify (alice)"),
        (SERVER, "client", "news", "client bob · server"),
        (SERVER, "user", "rest", "user tr-bob@example.com · REST walker t_notify"),
    ]
    first, by_walker = received(traffic, "bob", "channel")
    assert sent_flow(traffic, first.cause).kind == "channel" and sent_flow(traffic, first.cause).source == "alice"
    assert sent_flow(traffic, by_walker.cause).label == "walker t_notify" and by_walker.latency is not None
    [dm] = received(traffic, "alice", "user")
    assert (dm.source, dm.route) == ("bob", "user tr-alice@example.com") and sent_flow(
        traffic, dm.cause
    ).source == "bob"
    [psst] = received(traffic, "carol", "client")
    assert (psst.source, psst.route) == ("guest", "client carol")
    [answer] = received(traffic, "alice", "response")
    assert answer.route == "walker t_notify (alice)" and sent_flow(traffic, answer.cause).label == "walker t_notify"
    guest_kinds = [f.kind for f in received(traffic, "guest")]
    assert guest_kinds[-5:] == ["self", "self", "response", "error", "connection"]
    [error] = received(traffic, "guest", "error")
    assert sent_flow(traffic, error.cause).text == '{"type":"bogus"}' and error.route == "answer to bogus"
    last = guest.inbox[-1]
    assert traffic.route_of(guest, last).kind == "connection" and last.cause is not None
    route = traffic.route_of(bob, bob.inbox[1])
    assert (route.kind, route.text, route.sender) == ("channel", f"channel {alice.channel_id} · from alice", "alice")


# -- causality under load -------------------------------------------------------------------

RUNS = 20
SENDS_PER_RUN = 1000


@pytest.fixture
def busy_cores() -> Iterator[None]:
    """Both cores busy with another process for the test's length (stopped even if the test fails)."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait(timeout=10)


def one_run(server: Server, run: int) -> tuple[int, int, int]:
    """1,000 sends of every kind among four clients; return (receipts checked, misattributed, out of order)."""
    channel = f"load-{run}-{time.monotonic_ns()}"
    users = [server.client(user=f"load-{n}@example.com", channel_id=channel, name=f"u{n}") for n in range(2)]
    guests = [server.client(channel_id=channel, name=f"g{n}") for n in range(2)]
    clients = users + guests
    traffic = Traffic(clients, keep=100_000)
    expected = dict.fromkeys((c.name for c in clients), 0)
    counter = itertools.count()
    calls = []
    try:
        for n in range(SENDS_PER_RUN):
            sender = clients[n % 4]
            target = clients[(n + 1) % 4]
            user = users[n % 2]
            data = {"n": next(counter), "from": sender.name}
            choice = n % 10
            if choice == 0:
                sender.channel([channel], data)
                expected.update({c.name: expected[c.name] + 1 for c in clients})
            elif choice == 1:
                sender.user([user.root_id], data)
                expected[user.name] += 1
            elif choice == 2:
                sender.client([target.client_id], data)
                expected[target.name] += 1
            elif choice == 3:
                calls.append(sender.walker("t_notify", kind="channels", ids=[channel], data=data))
                expected.update({c.name: expected[c.name] + 1 for c in clients})
                expected[sender.name] += 1
            elif choice == 4:
                calls.append(sender.walker("t_async_notify", kind="users", ids=[user.root_id], data=data))
                expected[user.name] += 1
                expected[sender.name] += 1
            elif choice == 5:
                calls.append(sender.walker("t_notify", kind="clients", ids=[target.client_id], data=data))
                expected[target.name] += 1
                expected[sender.name] += 1
            elif choice == 6:
                calls.append(sender.walker("t_progress", steps=2))
                expected[sender.name] += 3
            elif choice == 7:
                sender.send({"type": "nonsense", "n": data["n"]})
                expected[sender.name] += 1
            elif choice == 8:
                sender.send({"type": "connection"})
                expected[sender.name] += 1
            else:
                server.notify_channels([channel], data)
                expected.update({c.name: expected[c.name] + 1 for c in clients})
            if len(calls) >= 40:  # keep each connection's walker queue short of its limit
                for call in calls:
                    call.result(30)
                calls.clear()
        for call in calls:
            call.result(30)
        for client in clients:  # + 1: each client's connection event
            client.wait_inbox(expected[client.name] + 1, timeout=30)
            assert len(client.inbox) == expected[client.name] + 1, client.name
        return check_causality(traffic, clients)
    finally:
        for client in clients:
            client.close()


def check_causality(traffic: Traffic, clients: list[Client]) -> tuple[int, int, int]:
    """Check every receipt against the send that truly caused it; return (checked, wrong, out of order).

    Deliveries carry a unique ``n`` that their send carries too; a walker's answers, a
    socket's errors and connection events come in the order of that socket's own sends.
    """
    flows = traffic.flows
    by_seq = {f.seq: f for f in flows}
    assert [f.seq for f in flows] == sorted(f.seq for f in flows)
    events = {f.seq: orjson.loads(f.text) for f in flows}
    sends: dict[tuple[str, str], list[int]] = {}  # (sender, what its answers are) -> send seqs in order
    for flow in flows:
        if flow.target == SERVER:
            event = events[flow.seq]
            answer = {"walker": "walker", "connection": "connection"}.get(event["type"], "error")
            if event["type"] in ("channel", "user", "client"):
                continue
            sends.setdefault((flow.source, answer), []).append(flow.seq)
    answers: dict[tuple[str, str], int] = {}
    checked = wrong = out_of_order = 0
    for flow in flows:
        if flow.target == SERVER:
            continue
        checked += 1
        received = events[flow.seq]
        if flow.cause is None:
            # only the connection event on connect and server.notify_* calls have no send behind them
            server_call = flow.source == SERVER and flow.route.endswith("· server")
            wrong += not (server_call or (flow.kind == "connection" and not answers.get((flow.target, "connect"))))
            answers[(flow.target, "connect")] = 1
            continue
        cause = by_seq[flow.cause]
        event = events[cause.seq]
        out_of_order += cause.seq >= flow.seq
        if flow.kind in ("channel", "user", "client") and flow.source != SERVER:  # a client's event
            right = cause.source == flow.source and event["type"] == flow.kind and event["data"] == received
        elif flow.kind in ("channel", "user", "client"):  # a walker's notification
            right = event["type"] == "walker" and event["context"].get("data") == received
        elif flow.kind == "response":
            right = cause.source == flow.target and event.get("id") == received.get("id")
        elif flow.kind in ("self", "error", "connection"):
            # the k-th answer of its kind goes to the k-th send that has such answers
            what = {"self": "walker", "error": "error", "connection": "connection"}[flow.kind]
            if flow.kind == "self":
                right = cause.source == flow.target and event.get("walker") == "t_progress"
            else:
                k = answers.get((flow.target, what), 0)
                answers[(flow.target, what)] = k + 1
                right = sends[(flow.target, what)][k] == cause.seq
        else:
            right = False
        wrong += not right
    return checked, wrong, out_of_order


def test_causality_holds_under_load_with_both_cores_busy(server: Server, busy_cores: None) -> None:
    totals = [one_run(server, run) for run in range(RUNS)]
    checked = sum(t[0] for t in totals)
    assert checked > RUNS * SENDS_PER_RUN  # every receipt of every run was looked at
    assert sum(t[1] for t in totals) == 0, f"misattributed receipts per run: {[t[1] for t in totals]}"
    assert sum(t[2] for t in totals) == 0, f"receipts drawn before their cause per run: {[t[2] for t in totals]}"

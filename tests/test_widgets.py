"""Playground widgets without a front end: build them, drive real clients, assert on the state the browser gets."""

from __future__ import annotations

import base64
import hashlib
import itertools
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from websockets.sync.server import serve

import jacws
from jacws.client import Client
from jacws.protocol import PUBLIC_ROOT_ID
from jacws.server import Server
from jacws.widgets import ENTRIES, ClientCard, Playground, UpdateQueue


@pytest.fixture
def playground_server() -> Iterator[Server]:
    server = jacws.start()
    yield server
    server.stop()


CHAT = 'chat {"data":{"message":"hi"}}'
"""How a card labels the chat message these tests send: its type, then the rest in one line."""


def entries(card: ClientCard) -> list[tuple[str, str, str, str]]:
    """The card's timeline, oldest first: (direction, kind, label, route)."""
    return [(e["dir"], e["kind"], e["label"], e["route"]) for e in reversed(card.entries)]


def test_cards_show_state_ids_one_timeline_and_filters_in_protocol_words(playground_server: Server) -> None:
    alice = playground_server.client(user="w-alice@example.com", channel_id="room")
    guest = playground_server.client(channel_id="room")
    play = Playground(playground_server, [alice, guest])
    alice.channel(["room"], {"type": "chat", "data": {"message": "hi"}})
    guest.wait_for(lambda m: m.get("type") == "chat")
    playground_server.notify_clients([guest.client_id], {"type": "news"})
    guest.wait_for(lambda m: m.get("type") == "news")
    alice.wait_for(lambda m: m.get("type") == "chat")
    play.flush()

    card = play.card(guest)
    assert (card.name, card.identity, card.state) == (guest.name, "anonymous", "open")
    assert card.ids == {"client_id": guest.client_id, "root_id": PUBLIC_ROOT_ID, "channel_id": "room"}
    assert entries(card) == [
        ("in", "connection", "anonymous", "on connecting"),
        ("in", "channel", CHAT, "channel room · from w-alice@example.com"),
        ("in", "client", "news", f"client {guest.name} · server"),
    ]
    assert card.counts == {"shown": 3, "received": 3, "sent": 0}
    assert card.filters == ["all", "sent", "received", "channel", "client", "connection"]
    card.filter = "channel"
    assert entries(card) == [
        ("in", "channel", 'chat {"data":{"message":"hi"}}', "channel room · from w-alice@example.com")
    ]
    assert card.counts["shown"] == 1
    card.filter = "all"

    mine = play.card(alice)
    assert mine.name == mine.identity == "w-alice@example.com"  # the header shows it once
    assert ("out", "channel", 'chat {"data":{"message":"hi"}}', "to channel room") in entries(
        mine
    )  # what the card's own client sent
    received = next(e for e in mine.entries if e["dir"] == "in" and e["kind"] == "channel")
    assert received["latency"] is not None and received["latency"] > 0
    assert '"message":"hi"' in received["text"]
    assert play.flow.lanes[:3] == ["server", alice.name, guest.name]
    kinds = [(f["source"], f["target"], f["kind"]) for f in play.flow.flows]
    assert (alice.name, guest.name, "channel") in kinds and ("server", guest.name, "client") in kinds


def test_form_actions_send_every_event_type_and_report_errors(playground_server: Server) -> None:
    alice = playground_server.client(user="w-alice@example.com", channel_id="forms")
    bob = playground_server.client(user="w-bob@example.com", channel_id="forms")
    guest = playground_server.client(channel_id="forms")
    play = Playground(playground_server, [alice, bob, guest])
    card = play.card(alice)
    assert card.targets["user"] == [["w-alice@example.com", alice.root_id], ["w-bob@example.com", bob.root_id]]
    assert all(root != PUBLIC_ROOT_ID for _, root in card.targets["user"])  # the server refuses the public root
    assert [name for name, _ in card.targets["client"]] == [alice.name, bob.name, guest.name]

    card.act({"action": "send", "kind": "channel", "ids": "forms", "data": '{"via": "channel form"}'})
    assert bob.wait_for(lambda m: m.get("via") == "channel form") and card.status["level"] == "ok"
    card.act({"action": "send", "kind": "user", "ids": bob.root_id, "data": '{"via": "user form"}'})
    assert bob.wait_for(lambda m: m.get("via") == "user form")
    card.act({"action": "send", "kind": "client", "ids": f" {bob.client_id} ,", "data": '{"via": "client form"}'})
    assert bob.wait_for(lambda m: m.get("via") == "client form")
    assert card.status == {"text": f"sent to client {bob.name}", "level": "ok"}

    card.act({"action": "send", "kind": "client", "ids": bob.client_id, "data": "{not json"})
    assert card.status["level"] == "error" and card.status["text"].startswith("data is not JSON")
    card.act({"action": "send", "kind": "user", "ids": PUBLIC_ROOT_ID, "data": "{}"})
    assert "public root" in card.status["text"]
    card.act({"action": "send", "kind": "channel", "ids": " ", "data": "{}"})
    assert card.status == {"text": "give at least one channel id", "level": "error"}

    assert "t_echo" in [w["name"] for w in card.walkers] and "t_rest_only" not in [w["name"] for w in card.walkers]
    card.act({"action": "walker", "walker": "t_echo", "fields": {"value": "41", "label": ""}, "response": True})
    alice.wait_for(lambda m: m.get("reports") == [{"value": 41, "label": "x"}])  # "41" typed as an int field
    play.flush()
    assert card.rtt["count"] == 1 and card.rtt["last"] > 0
    assert ("in", "response", "reports (1)", "walker t_echo (w-alice@example.com)") in entries(card)
    card.act({"action": "walker", "walker": "nope", "fields": {}, "response": True})
    assert card.status["level"] == "error"

    card.act({"action": "connection"})
    alice.wait_for(lambda m: m.get("type") == "connection", since=1)

    bob_card = play.card(bob)
    labels = [label for label, _ in bob_card.identities]
    assert labels == ["anonymous", "w-bob@example.com (its own token)", "w-alice@example.com"]
    assert all(isinstance(index, int) for _, index in bob_card.identities)  # no tokens in widget state
    bob_card.act({"action": "change_user", "identity": 0})
    play.flush()
    assert bob.anonymous and bob_card.identity == "anonymous"
    bob_card.act({"action": "change_user", "identity": 2})
    play.flush()
    assert bob.root_id == alice.root_id and bob_card.identity == "w-alice@example.com"
    bob_card.act({"action": "change_user", "identity": 1})
    play.flush()
    assert bob_card.identity == "w-bob@example.com" and bob_card.ids["root_id"] != alice.root_id


def test_progress_notifications_drive_a_progress_bar(playground_server: Server) -> None:
    client = playground_server.client()
    card = ClientCard(client)
    client.walker("long_task", steps=4, delay=0.05).result()
    card.flush()
    assert card.progress == {"value": 100.0, "status": "completed"}
    assert [e["kind"] for e in card.entries[:6]] == ["response", "self", "self", "self", "self", "self"]


def test_reconnect_and_close_buttons_and_a_stopped_and_restarted_server(playground_server: Server) -> None:
    client = playground_server.client()
    play = Playground(playground_server, [client])
    card = play.card(client)
    old_id = client.client_id
    card.act({"action": "reconnect"})
    play.flush()
    assert client.client_id != old_id and card.ids["client_id"] == client.client_id
    port = playground_server.port
    play.panel.stop_button.click()
    client.wait_closed()
    play.flush()
    assert (card.state, card.close_code) == ("closed", 1001)
    assert "stopped" in play.panel.state.value and play.panel.stop_button.disabled
    play.panel.start_button.click()
    assert playground_server.state.value == "running" and playground_server.port == port
    card.act({"action": "reconnect"})
    play.flush()
    assert card.state == "open"
    card.act({"action": "close"})
    play.flush()
    assert (card.state, card.close_code) == ("closed", 1000)


def test_server_panel_lists_connections_channels_and_walkers(playground_server: Server) -> None:
    alice = playground_server.client(user="w-panel@example.com", channel_id="panel-room")
    play = Playground(playground_server, [alice])
    play.panel.refresh_button.click()
    assert "1 connections" in play.panel.connections.value and "w-panel@example.com" in play.panel.connections.value
    assert "panel-room" in play.panel.connections.value
    assert "send_chat_to_user" in play.panel.walker_table.value
    playground_server.stop()
    play.panel.refresh_button.click()
    assert "stopped" in play.panel.state.value and "not running" in play.panel.connections.value


def test_a_burst_of_2000_messages_reaches_the_cards_in_few_batches(playground_server: Server) -> None:
    receiver = playground_server.client(channel_id="burst")
    sender = playground_server.client()
    play = Playground(playground_server, [receiver, sender])
    card = play.card(receiver)
    for n in range(2000):
        sender.channel(["burst"], {"n": n})
    receiver.wait_for(lambda m: m.get("n") == 1999, timeout=30)
    card.flush()  # what is left: every view heard of each message before wait_for returned
    assert card.counts["received"] == 2001
    assert len(card.entries) == ENTRIES and card.entries[0]["text"] == '{"n":1999}'  # newest first
    assert card.updates.batches < 200  # coalesced, not one redraw per message
    play.flush()
    assert len(play.flow.flows) == play.flow.total == 4002  # every send and receipt, the two connections too


@pytest.mark.parametrize("blocking", ["wait_for", "sleep"])
def test_cards_move_while_the_main_thread_blocks(playground_server: Server, blocking: str) -> None:
    client = playground_server.client(channel_id="busy")
    play = Playground(playground_server, [client])
    play.start()  # what displaying it does
    card = play.card(client)
    progress: list[float] = []
    counts: list[int] = []
    done = threading.Event()

    def sample() -> None:  # what the browser would be sent, read from another thread while this one blocks
        while not done.is_set():
            progress.append(card.progress.get("value", -1.0))
            counts.append(card.counts["received"])
            done.wait(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        client.walker("long_task", steps=20, delay=0.05)
        if blocking == "wait_for":  # blocks, as a cell would
            client.wait_for(lambda m: m.get("status") == "completed", timeout=30)
        else:
            time.sleep(1.5)
    finally:
        done.set()
        sampler.join(10)
    assert len(set(progress)) >= 5, f"the progress bar did not move while waiting: {sorted(set(progress))}"
    rises = sum(1 for before, after in itertools.pairwise(counts) if after > before)
    assert rises >= 5, f"the message count rose {rises} times while waiting"


def test_the_flow_view_sends_new_flows_in_batches_and_everything_to_a_new_view(playground_server: Server) -> None:
    alice = playground_server.client(channel_id="flows")
    play = Playground(playground_server, [alice])
    sent: list[dict[str, Any]] = []
    play.flow.send = lambda content, buffers=None: sent.append(content)  # what the comm would carry
    play.flush()
    for n in range(5):
        alice.channel(["flows"], {"n": n})
    alice.wait_for(lambda m: m.get("n") == 4)
    play.flush()
    appended = [flow for message in sent if message["type"] == "append" for flow in message["flows"]]
    assert [flow[4] for flow in appended][-10:] == ["channel"] * 10
    assert [flow[0] for flow in appended] == sorted({flow[0] for flow in appended})  # each once, in order
    play.flow._on_front_end(play.flow, {"type": "hello"}, [])
    reset = sent[-1]
    assert reset["type"] == "reset" and [f[0] for f in reset["flows"]] == [f["seq"] for f in play.flow.flows]
    assert reset["flows"][-1][9] == '{"n":4}' and reset["keep"] == 10_000


def test_update_queue_applies_in_order_on_the_display_thread_or_on_flush() -> None:
    applied: list[list[int]] = []
    manual = UpdateQueue(applied.append, max_batch=3, auto=False)
    for n in range(5):
        manual.push(n)
    assert applied == [] and manual.pending == 5
    assert manual.flush() == 3 and manual.flush() == 2 and manual.flush() == 0
    assert applied == [[0, 1, 2], [3, 4]]

    seen: list[int] = []
    arrived = threading.Event()

    def apply(batch: list[int]) -> None:
        seen.extend(batch)
        if seen[-1] == 999:
            arrived.set()

    queue = UpdateQueue(apply, interval=0.01)
    for n in range(1000):
        queue.push(n)
    assert arrived.wait(10)
    assert seen == list(range(1000)) and queue.batches < 1000


def test_a_card_works_for_a_client_built_directly(playground_server: Server) -> None:
    client = Client(playground_server.ws_url, channel_id="direct")
    card = ClientCard(client)
    names = [w["name"] for w in card.walkers]
    assert "t_echo" in names and "t_rest_only" not in names
    assert card.base_url == playground_server.url
    client.close()
    card.flush()
    assert card.state == "closed"


def test_a_playground_of_clients_of_a_server_elsewhere_traces_messages_by_their_data() -> None:
    """A bare websockets server speaking the connection and channel events: no panel, no catalogue, no causes."""
    members: list[Any] = []

    def handler(ws: Any) -> None:
        members.append(ws)
        info = {"client_id": f"c{len(members)}", "root_id": PUBLIC_ROOT_ID, "channel_id": "room"}
        ws.send(orjson.dumps({"type": "connection", "data": info}).decode())
        for frame in ws:
            event = orjson.loads(frame)
            if event.get("type") == "channel":
                for member in list(members):
                    member.send(orjson.dumps(event["data"]).decode())

    with serve(handler, "127.0.0.1", 0) as elsewhere:
        threading.Thread(target=elsewhere.serve_forever, daemon=True).start()
        url = f"ws://127.0.0.1:{elsewhere.socket.getsockname()[1]}/websocket"
        alice, bob = Client(url, name="alice"), Client(url, name="bob")
        try:
            play = Playground(None, [alice, bob])
            assert play.panel is None and play.walkers == [] and play.card(bob).walkers == []
            alice.channel(["room"], {"type": "chat", "n": 1})
            bob.wait_for(lambda m: m.get("n") == 1)
            play.flush()
            assert ("in", "channel", 'chat {"n":1}', "channel room · from alice") in entries(play.card(bob))
            assert ("alice", "bob", "channel") in [(f["source"], f["target"], f["kind"]) for f in play.flow.flows]
        finally:
            alice.close()
            bob.close()
            elsewhere.shutdown()


def test_a_playground_not_displayed_costs_its_clients_nothing(playground_server: Server) -> None:
    client = playground_server.client(channel_id="unseen")
    before = (len(client._callbacks), len(client._send_callbacks), len(client._state_callbacks))
    play = Playground(playground_server, [client])
    assert (len(client._callbacks), len(client._send_callbacks), len(client._state_callbacks)) == before
    client.channel(["unseen"], {"type": "early"})
    client.wait_for(lambda m: m.get("type") == "early")
    play._repr_mimebundle_()  # displayed: it follows the client from now on, what happened before included
    assert len(client._callbacks) > before[0]
    client.channel(["unseen"], {"type": "later"})
    client.wait_for(lambda m: m.get("type") == "later")
    play.flush()
    labels = [e["label"] for e in reversed(play.card(client).entries)]
    assert labels == ["anonymous", "early", "early", "later", "later"]  # each sent, then received
    assert [f["kind"] for f in play.flow.flows] == ["connection", "channel", "channel", "channel", "channel"]


def test_a_playground_displayed_to_no_one_keeps_bounded_memory() -> None:
    """As in a notebook run by nbclient (displayed, no front end): what the views keep stops at their bounds."""
    server = jacws.start(rate_per_second=1_000_000, rate_burst=1_000_000)  # one client sends 24,000 messages
    client = server.client(channel_id="alone")
    play = Playground(server, [client])
    play.start()  # displayed, to no one

    def burst(start: int, count: int = 12_000) -> None:
        for n in range(start, start + count):
            client.channel(["alone"], {"n": n})
        client.wait_for(lambda m: m.get("n") == start + count - 1, timeout=60)
        play.flush()

    def kept() -> int:
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(True, "*jacws/widgets/*"), tracemalloc.Filter(True, "*jacws/traffic.py")]
        )
        return sum(stat.size for stat in snapshot.statistics("filename"))

    tracemalloc.start()
    try:
        burst(0)  # fills every bound: 10,000 flows, 5,000 timeline entries, 10,000 routes
        before = kept()
        burst(12_000)
        after = kept()
    finally:
        tracemalloc.stop()
        server.stop()
    assert play.flow.total == 48_001 and len(play.traffic.flows) == 10_000  # with its connection event
    assert after < before * 1.05, f"the views grew from {before} to {after} bytes with nobody watching"


def test_an_odd_message_from_a_peer_costs_no_other_message_its_place(playground_server: Server) -> None:
    alice = playground_server.client(channel_id="odd")
    mallory = playground_server.client(channel_id="odd")
    play = Playground(playground_server, [alice, mallory])
    for data in ({"type": "before"}, {"status": 200, "reports": 5}, {"error": None, "code": []}, {"type": "after"}):
        mallory.channel(["odd"], data)
    alice.wait_for(lambda m: m.get("type") == "after")
    play.flush()
    shown = [e["label"] for e in reversed(play.card(alice).entries)]
    assert shown[-4:] == ["before", '{"status":200,"reports":5}', '{"error":null,"code":[]}', "after"]
    assert all(e["kind"] == "channel" for e in play.card(alice).entries[:4])  # as the server says, not as they look


def test_card_actions_join_leave_and_ask_who_is_there(playground_server: Server) -> None:
    alice = playground_server.client(user="c-alice@example.com", channel_id="c-home")
    bob = playground_server.client(channel_id="c-room")
    play = Playground(playground_server, [alice, bob])
    card = play.card(alice)
    card.act({"action": "join", "ids": "c-room, c-side", "presence": True})
    assert card.status == {"text": "on channels: c-home, c-room, c-side", "level": "ok"}
    card.act({"action": "presence", "ids": "c-room"})
    assert card.status["level"] == "ok" and card.status["text"].startswith("on c-room: ")
    assert alice.name in card.status["text"] and bob.name in card.status["text"]  # named, not ids
    bob.leave(["c-room"])
    assert alice.wait_for(lambda m: m.get("type") == "presence_leave")["client_id"] == bob.client_id
    card.act({"action": "leave", "ids": "c-home, c-side"})
    assert card.status["text"] == "on channels: c-room"
    card.act({"action": "presence", "ids": "c-home"})  # not on it any more
    assert card.status["level"] == "error" and "forbidden" in card.status["text"]
    card.act({"action": "join", "ids": " , "})
    assert card.status == {"text": "give at least one channel id", "level": "error"}


def test_an_extension_event_sent_is_named_by_its_type_in_the_timeline(playground_server: Server) -> None:
    alice = playground_server.client(channel_id="t-home")
    play = Playground(playground_server, [alice])
    card = play.card(alice)
    alice.join(["t-room"])
    play.flush()
    assert ("out", "notification", "join", "channels t-room") in entries(card)


def test_a_card_runs_a_walker_that_takes_files_over_rest_with_the_picked_files(playground_server: Server) -> None:
    alice = playground_server.client(user="w-files@example.com")
    card = Playground(playground_server, [alice]).card(alice)
    entry = next(w for w in card.walkers if w["name"] == "t_upload")  # a REST walker with files is listed
    assert [f["type"] for f in entry["fields"]][:1] == ["file"]
    picked = {"name": "notes.txt", "type": "text/plain", "data": base64.b64encode(b"picked in the browser").decode()}
    action = {"action": "walker", "walker": "t_upload", "fields": {"note": "from the card", "copies": "2"}}
    card.act({**action, "files": {"file": [picked]}, "response": True})
    assert card.status["level"] == "ok", card.status
    assert card.status["text"].startswith("t_upload over REST answered: ")
    reports = orjson.loads(card.status["text"].removeprefix("t_upload over REST answered: "))
    assert reports == [
        {
            "name": "notes.txt",
            "type": "text/plain",
            "size": 21,
            "sha256": hashlib.sha256(b"picked in the browser").hexdigest(),
            "note": "from the card",
            "copies": 2,
        }
    ]
    card.act({**action, "files": {}, "response": True})  # no file picked: the server's field error
    assert card.status["level"] == "error" and "file" in card.status["text"]

"""Playground widgets without a front end: build them, drive real clients, assert on widget state."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

import jacws
from jacws.client import Client
from jacws.server import Server
from jacws.widgets import FLOW_ROWS, INBOX_ROWS, ClientCard, Playground, UpdateQueue


@pytest.fixture
def playground_server() -> Iterator[Server]:
    server = jacws.start()
    yield server
    server.stop()


def test_cards_show_state_ids_inbox_and_filters(playground_server: Server) -> None:
    alice = playground_server.client(user="w-alice@example.com", channel_id="room")
    guest = playground_server.client(channel_id="room")
    play = Playground(playground_server, [alice, guest])
    alice.channel(["room"], {"type": "chat", "data": {"message": "hi"}})
    guest.wait_for(lambda m: m.get("type") == "chat")
    playground_server.notify_clients([guest.client_id], {"type": "news"})
    guest.wait_for(lambda m: m.get("type") == "news")
    play.flush()
    card = play.card(guest)
    assert "open" in card.header.value and "anonymous" in card.header.value
    assert guest.client_id in card.ids.value and guest.channel_id in card.ids.value
    assert card.count.value == "3 of 3 messages"
    assert set(card.type_filter.options) >= {"all", "chat", "news", "connection", "kind:notification"}
    assert "channel" in card.channel_filter.options
    card.type_filter.value = "chat"
    assert card.count.value == "1 of 3 messages" and "hi" in card.inbox.value and "news" not in card.inbox.value
    card.type_filter.value = "all"
    card.channel_filter.value = "channel"
    assert card.count.value == "1 of 3 messages"
    assert [c.name for c in play.traffic.clients] == [alice.name, guest.name]
    assert play.flow.lanes[:3] == ["server", alice.name, guest.name]
    kinds = [(f["source"], f["target"], f["kind"]) for f in play.flow.flows]
    assert (alice.name, guest.name, "channel") in kinds and ("server", guest.name, "client") in kinds


def test_form_buttons_send_every_event_type(playground_server: Server) -> None:
    alice = playground_server.client(user="w-alice@example.com", channel_id="forms")
    bob = playground_server.client(user="w-bob@example.com", channel_id="forms")
    play = Playground(playground_server, [alice, bob])
    card = play.card(alice)

    card.channel_ids.value = "forms"
    card.channel_data.value = '{"type": "chat", "via": "channel form"}'
    card.channel_send.click()
    assert bob.wait_for(lambda m: m.get("via") == "channel form")

    card.user_ids.value = bob.root_id
    assert bob.root_id in card.user_ids.options
    card.user_data.value = '{"via": "user form"}'
    card.user_send.click()
    assert bob.wait_for(lambda m: m.get("via") == "user form")

    card.client_ids.value = bob.client_id
    card.client_data.value = '{"via": "client form"}'
    card.client_send.click()
    assert bob.wait_for(lambda m: m.get("via") == "client form")

    card.client_data.value = "{not json"
    card.client_send.click()
    assert "data is not JSON" in card.status.value

    card.walker_name.value = "t_echo"
    assert set(card.field_inputs) == {"value", "label"} and card.field_inputs["label"][0].value == "x"
    card.field_inputs["value"][0].value = "41"
    card.walker_send.click()
    alice.wait_for(lambda m: m.get("reports") == [{"value": 41, "label": "x"}])
    play.flush()
    assert card.rtt_label.value.startswith("walker round trip: last ")

    card.connection_send.click()
    alice.wait_for(lambda m: m.get("type") == "connection")

    bob_card = play.card(bob)
    bob_card.change_token.value = 0  # anonymous
    assert all(isinstance(value, int) for _, value in bob_card.change_token.options)  # no tokens in widget state
    bob_card.change_send.click()
    assert bob.anonymous and "anonymous" in bob_card.header.value
    bob_card.change_token.label = alice.name
    bob_card.change_send.click()
    assert bob.root_id == alice.root_id and alice.name in bob_card.header.value


def test_progress_notifications_drive_a_progress_bar(playground_server: Server) -> None:
    client = playground_server.client()
    card = ClientCard(client)
    client.walker("long_task", steps=4, delay=0.01).result()
    card.flush()
    assert card.progress.value == 100 and card.progress.bar_style == "success"
    assert card.progress_label.value == "100% completed"
    assert card.progress.layout.display is None


def test_reconnect_and_close_buttons_and_a_stopped_server(playground_server: Server) -> None:
    client = playground_server.client()
    play = Playground(playground_server, [client])
    card = play.card(client)
    old_id = client.client_id
    card.reconnect_button.click()
    assert client.client_id != old_id
    playground_server.restart()
    client.wait_closed()
    play.flush()
    assert "closed (code 1001)" in card.header.value
    card.reconnect_button.click()
    play.flush()
    assert "open" in card.header.value
    card.close_button.click()
    play.flush()
    assert "closed (code 1000)" in card.header.value


def test_server_panel_lists_connections_channels_and_walkers(playground_server: Server) -> None:
    alice = playground_server.client(user="w-panel@example.com", channel_id="panel-room")
    play = Playground(playground_server, [alice])
    play.panel.refresh()
    assert "1 connections" in play.panel.connections.value and "w-panel@example.com" in play.panel.connections.value
    assert "panel-room" in play.panel.connections.value
    assert "send_chat_to_user" in play.panel.walker_table.value
    playground_server.stop()
    play.panel.refresh()
    assert "stopped" in play.panel.state.value and "not running" in play.panel.connections.value


def test_a_burst_of_2000_messages_is_applied_in_few_batches_on_a_live_loop(playground_server: Server) -> None:
    receiver = playground_server.client(channel_id="burst")
    sender = playground_server.client()

    async def scenario() -> tuple[Playground, float, int]:
        play = Playground(playground_server, [receiver, sender])  # views bind this running loop
        gaps: list[float] = []
        stop = asyncio.Event()

        async def heartbeat() -> None:
            last = time.monotonic()
            while not stop.is_set():
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        beat = asyncio.create_task(heartbeat())
        done = threading.Event()

        def burst() -> None:
            for n in range(2000):
                sender.channel(["burst"], {"n": n})
            receiver.wait_for(lambda m: m.get("n") == 1999, timeout=30)
            done.set()

        threading.Thread(target=burst, daemon=True).start()
        while not done.is_set():
            await asyncio.sleep(0.05)
        card = play.card(receiver)
        for _ in range(200):  # the update queue applies the rest within a few ticks
            if card.count.value == "2001 of 2001 messages" and play.flow.total >= 4000:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await beat
        return play, max(gaps), card.updates.batches

    play, worst_gap, batches = asyncio.run(asyncio.wait_for(scenario(), 60))
    card = play.card(receiver)
    assert card.count.value == "2001 of 2001 messages"
    assert card.inbox.value.count("<div") == INBOX_ROWS and "{&quot;n&quot;:1999}" in card.inbox.value
    assert len(play.flow.flows) == FLOW_ROWS and play.flow.total >= 4000
    assert batches < 200  # coalesced, not one redraw per message
    assert worst_gap < 2.0  # the loop kept ticking while the burst was applied (generous: CI machines are busy)


def test_update_queue_without_a_loop_waits_for_flush() -> None:
    applied: list[list[int]] = []
    queue = UpdateQueue(applied.append, max_batch=3)
    for n in range(5):
        queue.push(n)
    assert applied == []
    assert queue.flush() == 3 and queue.flush() == 2 and queue.flush() == 0
    assert applied == [[0, 1, 2], [3, 4]]


def test_a_card_works_for_a_client_built_directly(playground_server: Server) -> None:
    client = Client(playground_server.ws_url, channel_id="direct")
    card = ClientCard(client)
    assert "t_echo" in card.walker_name.options and "t_rest_only" not in card.walker_name.options
    client.close()

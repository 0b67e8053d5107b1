"""Presence (extension): who is on a channel, and arrivals and departures told to the members that asked."""

from __future__ import annotations

from typing import Any

from support import WS, quiet

from jacws.server import Server
from jacws.settings import Settings


def members_of(answer: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m["client_id"], m["root_id"]) for m in answer["members"]}


def test_presence_answers_every_member_of_the_channel_joined_or_connected_there(server: Server) -> None:
    with WS(server.ws_url, channel_id="p-room") as a, WS(server.ws_url, channel_id="p-other") as b:
        b.send({"type": "join", "channel_ids": ["p-room"]})
        b.recv()
        a.send({"type": "presence", "channel_id": "p-room", "id": 1})
        answer = a.recv()
        assert answer["type"] == "presence" and answer["channel_id"] == "p-room" and answer["id"] == 1
        assert members_of(answer) == {(a.client_id, a.root_id), (b.client_id, b.root_id)}
        b.send({"type": "leave", "channel_ids": ["p-room"]})
        b.recv()
        a.send({"type": "presence", "channel_id": "p-room"})
        assert members_of(a.recv()) == {(a.client_id, a.root_id)}


def test_only_members_may_ask_and_bad_presence_events_are_invalid(server: Server) -> None:
    with WS(server.ws_url, channel_id="p-mine") as ws:
        ws.send({"type": "presence", "channel_id": "p-not-mine", "id": "q"})
        error = ws.recv()
        assert error["type"] == "error" and error["code"] == "forbidden" and error["id"] == "q"
        assert "only members of a channel may ask who is on it" in error["error"]
        ws.send({"type": "presence", "id": "r"})
        error = ws.recv()
        assert error["code"] == "invalid_event" and error["details"][0]["loc"] == ["channel_id"] and error["id"] == "r"
        ws.send({"type": "join", "channel_ids": ["x"], "presence": "yes"})
        assert ws.recv()["code"] == "invalid_event"
        ws.barrier()  # the connection is still usable


def test_a_watcher_is_told_of_arrivals_and_departures_but_not_of_itself(server: Server) -> None:
    with WS(server.ws_url, channel_id="w-lobby") as watcher:
        watcher.send({"type": "join", "channel_ids": ["w-room"], "presence": True})
        assert watcher.recv()["channel_ids"] == ["w-lobby", "w-room"]  # and no presence_join about itself
        comer = WS(server.ws_url, channel_id="w-room")
        joined = watcher.recv()
        assert joined == {
            "type": "presence_join",
            "channel_id": "w-room",
            "client_id": comer.client_id,
            "root_id": comer.root_id,
        }
        other = WS(server.ws_url, channel_id="w-lobby")  # a channel it does not watch: nothing
        comer.send({"type": "join", "channel_ids": ["w-lobby"]})
        comer.recv()
        comer.close()  # closing leaves every channel
        left = watcher.recv()
        assert left["type"] == "presence_leave" and left["client_id"] == comer.client_id
        quiet(watcher)
        other.close()


def test_the_authenticated_policy_refuses_anonymous_presence() -> None:
    with Server(Settings(port=0, policy="authenticated")) as strict, WS(strict.ws_url, channel_id="s") as ws:
        ws.send({"type": "presence", "channel_id": "s", "id": 5})
        error = ws.recv()
        assert error["code"] == "forbidden" and "anonymous" in error["error"]
        ws.send({"type": "join", "channel_ids": ["t"], "presence": True})
        assert ws.recv()["code"] == "forbidden"


def test_a_presence_answer_has_the_documented_shape(server: Server) -> None:
    with WS(server.ws_url, channel_id="shape") as ws:
        ws.send({"type": "presence", "channel_id": "shape"})
        answer = ws.recv()
        assert answer == {
            "type": "presence",
            "channel_id": "shape",
            "members": [{"client_id": ws.client_id, "root_id": ws.root_id}],
        }

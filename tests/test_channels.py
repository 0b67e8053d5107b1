"""Several channels per connection (extension): join, leave, their answer, the limit, one delivery per message."""

from __future__ import annotations

import pytest
from support import WS, wait_until

from jacws.errors import JacWSError
from jacws.server import Server
from jacws.settings import Limits, Settings


def test_join_and_leave_answer_every_channel_of_the_connection_with_the_first_kept_first(server: Server) -> None:
    with WS(server.ws_url, channel_id="first") as ws:
        ws.send({"type": "join", "channel_ids": ["b", "c", "b"], "id": 7})
        assert ws.recv() == {"type": "channels", "channel_ids": ["first", "b", "c"], "id": 7}
        ws.send({"type": "join", "channel_ids": ["c", "d"]})
        assert ws.recv() == {"type": "channels", "channel_ids": ["first", "b", "c", "d"]}
        ws.send({"type": "leave", "channel_ids": ["b", "never-joined"], "id": "x"})
        assert ws.recv() == {"type": "channels", "channel_ids": ["first", "c", "d"], "id": "x"}
        ws.send({"type": "connection"})  # the connection event keeps the connect-time channel
        assert ws.recv()["data"]["channel_id"] == "first"


def test_a_channel_message_reaches_a_connection_once_even_on_several_target_channels(server: Server) -> None:
    with WS(server.ws_url, channel_id="m1") as member, WS(server.ws_url, channel_id="m-other") as sender:
        member.send({"type": "join", "channel_ids": ["m2", "m3"]})
        assert member.recv()["channel_ids"] == ["m1", "m2", "m3"]
        sender.send({"type": "channel", "channel_ids": ["m1", "m2", "m3"], "data": {"n": 1}})
        assert member.recv() == {"n": 1}
        member.barrier()  # and nothing else: the copy for m2 and m3 was the same message
        sender.send({"type": "channel", "channel_ids": ["m3"], "data": {"n": 2}})
        assert member.recv() == {"n": 2}  # a joined channel delivers like the connect-time one


def test_a_left_channel_delivers_no_more_even_the_connect_time_one(server: Server) -> None:
    with WS(server.ws_url, channel_id="l1") as member, WS(server.ws_url, channel_id="l-other") as sender:
        member.send({"type": "join", "channel_ids": ["l2"]})
        member.recv()
        member.send({"type": "leave", "channel_ids": ["l1", "l2"]})
        assert member.recv() == {"type": "channels", "channel_ids": []}
        sender.send({"type": "channel", "channel_ids": ["l1", "l2"], "data": {"n": 1}})
        sender.send({"type": "client", "client_ids": [member.client_id], "data": {"direct": True}})
        assert member.recv() == {"direct": True}  # the channel message was not delivered before it
        assert "l1" not in server.hub.by_channel and "l2" not in server.hub.by_channel


def test_closing_takes_the_connection_off_every_channel(server: Server) -> None:
    ws = WS(server.ws_url, channel_id="z1")
    ws.send({"type": "join", "channel_ids": ["z2", "z3"]})
    ws.recv()
    ws.close()
    wait_until(lambda: not {"z1", "z2", "z3"} & set(server.hub.by_channel), "a closed connection is still on a channel")


@pytest.mark.parametrize(
    ("event", "loc"),
    [
        ({"type": "join"}, ["channel_ids"]),
        ({"type": "join", "channel_ids": []}, ["channel_ids"]),
        ({"type": "leave", "channel_ids": ["ok", 3]}, ["channel_ids", 1]),
        ({"type": "join", "channel_ids": "lobby"}, ["channel_ids"]),
        ({"type": "join", "channel_ids": ["a"], "id": {"no": 1}}, ["id"]),
    ],
)
def test_bad_join_and_leave_events_are_invalid_and_the_connection_stays_usable(
    server: Server, event: dict[str, object], loc: list[object]
) -> None:
    with WS(server.ws_url, channel_id="bad") as ws:
        ws.send({**event, "id": event.get("id", "r1")})
        error = ws.recv()
        assert error["type"] == "error" and error["code"] == "invalid_event"
        assert any(d["loc"] == loc for d in error["details"]), error
        if isinstance(event.get("id", "r1"), str):
            assert error["id"] == "r1"
        ws.send({"type": "join", "channel_ids": ["good"]})
        assert ws.recv()["channel_ids"] == ["bad", "good"]


def test_the_channel_limit_refuses_the_whole_join_with_a_clear_error() -> None:
    settings = Settings(port=0, limits=Limits(max_channels_per_connection=3))
    with Server(settings) as small, WS(small.ws_url, channel_id="one") as ws:
        ws.send({"type": "join", "channel_ids": ["two", "three"]})
        assert ws.recv()["channel_ids"] == ["one", "two", "three"]
        ws.send({"type": "join", "channel_ids": ["three", "four", "five"], "id": 9})
        error = ws.recv()
        assert error == {
            "type": "error",
            "error": "a connection may be on at most 3 channels; it is on 3, this would add 2",
            "code": "too_many_channels",
            "id": 9,
        }
        assert "four" not in small.hub.by_channel  # nothing of a refused join was kept
        ws.send({"type": "leave", "channel_ids": ["one"]})
        ws.recv()
        ws.send({"type": "join", "channel_ids": ["four"]})
        assert ws.recv()["channel_ids"] == ["two", "three", "four"]


def test_simulated_clients_join_and_leave_and_hear_their_channels(server: Server) -> None:
    alice = server.client(channel_id="sim-a")
    bob = server.client(channel_id="sim-b")
    try:
        assert alice.join(["sim-b", "sim-c"]) == ["sim-a", "sim-b", "sim-c"]
        bob.channel(["sim-b"], {"hello": "b"})
        assert alice.wait_for(lambda m: m.get("hello") == "b") == {"hello": "b"}
        assert alice.leave(["sim-a"]) == ["sim-b", "sim-c"]
        with pytest.raises(JacWSError, match="invalid_event"):
            alice.join([])
    finally:
        alice.close()
        bob.close()

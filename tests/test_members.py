"""The hub's indexes: connections by client, user and channel, each target once, addresses counted to a limit."""

from __future__ import annotations

import asyncio

from fakes import RecordingTransport
from test_hub import ALICE, make_hub

from jacws.members import Members


def test_targets_are_each_connection_once_and_only_those_here() -> None:
    async def scenario() -> None:
        hub = make_hub()
        a = hub.connect(RecordingTransport(), ALICE, "room")
        b = hub.connect(RecordingTransport(), ALICE, "hall")
        c = hub.connect(RecordingTransport(), None, "room")
        members = hub.members
        assert members.of_users([ALICE.root_id, ALICE.root_id]) == {a.client_id: a, b.client_id: b}
        assert members.on_channels(["room", "hall", "room"]) == {a.client_id: a, c.client_id: c, b.client_id: b}
        assert members.with_ids([c.client_id, "nobody"]) == {c.client_id: c}
        assert members.remove(a) and not members.remove(a)
        assert members.on_channels(["room"]) == {c.client_id: c} and members.of_users([ALICE.root_id]) == {
            b.client_id: b
        }
        members.unindex_user(b)
        b.claims = None
        members.index_user(b)
        assert ALICE.root_id not in members.by_root and b.client_id in members.by_root[b.root_id]
        for conn in (b, c):
            members.remove(conn)
        assert members.connections == {} and members.by_channel == {} and members.by_root == {}

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_an_address_holds_at_most_its_limit_until_a_socket_leaves() -> None:
    members = Members(per_address_limit=2)
    assert members.arrive("10.0.0.1") and members.arrive("10.0.0.1")
    assert not members.arrive("10.0.0.1") and members.arrive("10.0.0.2")
    assert members.per_address == {"10.0.0.1": 2, "10.0.0.2": 1}
    members.leave("10.0.0.1")
    assert members.arrive("10.0.0.1")
    for address in ("10.0.0.1", "10.0.0.1", "10.0.0.2"):
        members.leave(address)
    assert members.per_address == {}


def test_joining_and_leaving_channels_keeps_the_index_and_the_order() -> None:
    async def scenario() -> None:
        hub = make_hub()
        a = hub.connect(RecordingTransport(), None, "first")
        members = hub.members
        assert members.join_channels(a, ["x", "first", "y"]) == ["first", "x", "y"]
        assert members.on_channels(["x", "y", "first"]) == {a.client_id: a}
        assert members.leave_channels(a, ["first", "nope"]) == ["x", "y"] and "first" not in members.by_channel
        assert list(a.channels) == ["x", "y"]
        assert members.remove(a) and members.by_channel == {}

    asyncio.run(asyncio.wait_for(scenario(), 10))

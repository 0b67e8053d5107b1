"""The hub with recording transports: fan-out, isolation, policy, identity, ordering."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest
from fakes import RecordingTransport

from jacws.auth import Claims, bearer_token
from jacws.connection import Connection, ConnectionState
from jacws.hub import Hub
from jacws.protocol import PUBLIC_ROOT_ID, ChannelEvent, ClientEvent, UserEvent
from jacws.settings import Limits, PublishPolicy
from jacws.stores import SQLiteStore

ALICE = Claims("u1", "alice@example.com", "n::" + "a1" * 12, "jti-alice", 2e9)


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 10))


def make_hub(limits: Limits | None = None, policy: PublishPolicy = "open") -> Hub:
    def authenticate(token: str | None) -> Claims | None:
        return ALICE if bearer_token(token) == "alice-token" else None

    return Hub(SQLiteStore(), __import__("jacws").registry, ThreadPoolExecutor(2), authenticate, limits, policy)


def frame(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


def connect(
    hub: Hub, channel: str | None = None, claims: Claims | None = None
) -> tuple[Connection, RecordingTransport]:
    transport = RecordingTransport()
    return hub.connect(transport, claims, channel), transport


def test_connect_queues_the_connection_event_and_indexes_the_connection() -> None:
    async def scenario() -> None:
        hub = make_hub()
        conn, transport = connect(hub, "room", ALICE)
        (event,) = await transport.wait_for(1)
        assert event == {"type": "connection", "data": conn.info()}
        assert hub.by_channel["room"] == {conn.client_id: conn}
        assert hub.by_root[ALICE.root_id] == {conn.client_id: conn}
        hub.disconnect(conn)
        assert hub.connections == {} and hub.by_channel == {} and hub.by_root == {}

    run(scenario)


def test_fan_out_enqueues_to_everyone_even_when_one_transport_is_stuck() -> None:
    async def scenario() -> None:
        hub = make_hub()
        stuck, stuck_transport = connect(hub, "room")
        await stuck_transport.wait_for(1)
        stuck_transport.stall()
        others = [connect(hub, "room") for _ in range(3)]
        sender, _ = connect(hub)
        for n in range(10):
            hub.handle_frame(sender, frame({"type": "channel", "channel_ids": ["room"], "data": {"n": n}}))
        for _, transport in others:
            sent = await transport.wait_for(11)
            assert [m["n"] for m in sent[1:]] == list(range(10))
        assert stuck.backlog == 10 and stuck_transport.sent[1:] == []  # the first is stuck in send()

    run(scenario)


def test_a_connection_over_its_backlog_that_reads_nothing_is_closed_with_1008_and_others_get_everything() -> None:
    async def scenario() -> None:
        hub = make_hub(Limits(max_backlog_messages=5, slow_consumer_seconds=0.2))
        slow, slow_transport = connect(hub, "room")
        _, fast_transport = connect(hub, "room")
        await slow_transport.wait_for(1)
        slow_transport.stall()
        for n in range(20):
            hub.deliver_channels(["room"], frame({"n": n}))
            await asyncio.sleep(0)  # let the fast writer drain as a real socket would
        assert await slow_transport.wait_closed() == (1008, "slow consumer")
        assert slow.close_code == 1008 and slow.backlog == 0
        sent = await fast_transport.wait_for(21)
        assert [m["n"] for m in sent[1:]] == list(range(20))

    run(scenario)


def test_byte_backlog_limit_closes_too() -> None:
    async def scenario() -> None:
        hub = make_hub(Limits(max_backlog_bytes=1000, slow_consumer_seconds=0.2))
        _, transport = connect(hub, "room")
        await transport.wait_for(1)
        transport.stall()
        hub.deliver_channels(["room"], frame({"pad": "x" * 600}))
        hub.deliver_channels(["room"], frame({"pad": "y" * 600}))
        assert await transport.wait_closed() == (1008, "slow consumer")

    run(scenario)


def test_a_reader_over_its_backlog_that_keeps_reading_is_not_closed() -> None:
    async def scenario() -> None:
        hub = make_hub(Limits(max_backlog_messages=5, slow_consumer_seconds=0.2))
        reader, transport = connect(hub, "room")
        await transport.wait_for(1)
        transport.stall()
        for n in range(50):  # a burst: ten times its backlog limit
            hub.deliver_channels(["room"], frame({"n": n}))
        assert reader in hub.backlogged
        for count in range(2, 52):  # it reads on, slowly: a frame every 20 ms, five times the grace period in all
            await asyncio.sleep(0.02)
            transport.release()
            await transport.wait_for(count)
            transport.stall()
        assert reader.state is ConnectionState.OPEN and [m["n"] for m in transport.sent[1:]] == list(range(50))
        assert reader not in hub.backlogged or reader.backlog <= 5

    run(scenario)


def test_past_the_hard_byte_cap_a_socket_is_closed_at_once() -> None:
    async def scenario() -> None:
        hub = make_hub(Limits(backlog_hard_bytes=1000))
        _, transport = connect(hub, "room")
        await transport.wait_for(1)
        transport.stall()
        hub.deliver_channels(["room"], frame({"pad": "x" * 600}))
        hub.deliver_channels(["room"], frame({"pad": "y" * 600}))
        assert await transport.wait_closed(timeout=0.5) == (1008, "slow consumer")

    run(scenario)


def test_a_publisher_pays_for_the_backlog_it_causes_and_is_held_past_its_budget() -> None:
    async def scenario() -> None:
        hub = make_hub(Limits(publish_burst_bytes=10_000, publish_bytes_per_second=100_000))
        readers = [connect(hub, "room") for _ in range(4)]
        for _, transport in readers:
            await transport.wait_for(1)
            transport.stall()  # none of them takes anything now: all of it waits in their backlogs
        sender, sender_transport = connect(hub)
        event = {"type": "channel", "channel_ids": ["room"], "data": {"pad": "x" * 990}}  # 1000 bytes x 4
        hub.handle_frame(sender, frame(event))
        hub.handle_frame(sender, frame(event))
        assert sender_transport.holds == []  # 8,000 of its 10,000 bytes
        hub.handle_frame(sender, frame(event))
        assert len(sender_transport.holds) == 1 and 0.015 < sender_transport.holds[0] < 0.025  # 2,000 short

    run(scenario)


def test_targets_are_deduplicated_across_ids() -> None:
    async def scenario() -> None:
        hub = make_hub()
        conn, transport = connect(hub, "room", ALICE)
        sender, _ = connect(hub)
        assert hub.deliver_channels(["room", "room"], frame({"n": 1})) == 1
        assert hub.deliver_users([ALICE.root_id, ALICE.root_id], frame({"n": 2})) == 1
        assert hub.deliver_clients([conn.client_id, conn.client_id, "missing"], frame({"n": 3})) == 1
        sent = await transport.wait_for(4)
        assert sent[1:] == [{"n": 1}, {"n": 2}, {"n": 3}]
        del sender

    run(scenario)


@pytest.mark.parametrize(
    ("policy", "claims", "allowed"),
    [("open", None, True), ("authenticated", None, False), ("authenticated", ALICE, True)],
)
def test_publish_policy_modes(policy: PublishPolicy, claims: Claims | None, allowed: bool) -> None:
    async def scenario() -> None:
        hub = make_hub(policy=policy)
        sender, sender_transport = connect(hub, claims=claims)
        _, receiver = connect(hub, "room")
        hub.handle_frame(sender, frame({"type": "channel", "channel_ids": ["room"], "data": {"x": 1}}))
        if allowed:
            assert (await receiver.wait_for(2))[1] == {"x": 1}
        else:
            error = (await sender_transport.wait_for(2))[1]
            assert error["code"] == "forbidden" and error["type"] == "error"
            assert len(receiver.sent) == 1

    run(scenario)


def test_callable_policy_decides_per_event() -> None:
    seen: list[Any] = []

    def only_room_a(conn: Connection, event: UserEvent | ChannelEvent | ClientEvent) -> bool:
        seen.append(event)
        return isinstance(event, ChannelEvent) and event.channel_ids == ("a",)

    async def scenario() -> None:
        hub = make_hub(policy=only_room_a)
        sender, transport = connect(hub)
        hub.handle_frame(sender, frame({"type": "channel", "channel_ids": ["a"], "data": {}}))
        hub.handle_frame(sender, frame({"type": "channel", "channel_ids": ["b"], "data": {}}))
        sent = await transport.wait_for(2)
        assert sent[1]["code"] == "forbidden" and len(seen) == 2

    run(scenario)


def test_public_root_user_event_is_refused_under_every_policy() -> None:
    async def scenario() -> None:
        hub = make_hub()
        sender, transport = connect(hub, claims=ALICE)
        hub.handle_frame(sender, frame({"type": "user", "root_ids": [PUBLIC_ROOT_ID[3:]], "data": {}}))
        assert (await transport.wait_for(2))[1]["code"] == "forbidden"

    run(scenario)


def test_change_user_and_revoke_move_the_connection_between_roots() -> None:
    async def scenario() -> None:
        hub = make_hub()
        conn, transport = connect(hub, "room")
        hub.handle_frame(conn, frame({"type": "change_user", "token": "Bearer alice-token"}))
        assert (await transport.wait_for(2))[1]["data"]["root_id"] == ALICE.root_id
        assert conn.client_id in hub.by_root[ALICE.root_id] and PUBLIC_ROOT_ID not in hub.by_root
        assert hub.revoke("jti-alice") == 1
        assert (await transport.wait_for(3))[2]["data"]["root_id"] == PUBLIC_ROOT_ID
        assert ALICE.root_id not in hub.by_root

    run(scenario)


def test_close_all_closes_every_connection_with_1001() -> None:
    async def scenario() -> None:
        hub = make_hub()
        transports = [connect(hub)[1] for _ in range(3)]
        await hub.close_all()
        assert [t.closed for t in transports] == [(1001, "server shutdown")] * 3

    run(scenario)


def test_a_slow_walker_does_not_delay_the_same_connections_other_events() -> None:
    async def scenario() -> None:
        hub = make_hub()
        conn, transport = connect(hub, "room")
        hub.handle_frame(
            conn, frame({"type": "walker", "walker": "t_slow", "context": {"seconds": 0.5}, "response": True})
        )
        hub.handle_frame(conn, frame({"type": "walker", "walker": "t_echo", "context": {"value": 1}, "response": True}))
        hub.handle_frame(conn, frame({"type": "channel", "channel_ids": ["room"], "data": {"quick": True}}))
        sent = await transport.wait_for(4)
        assert sent[1] == {"quick": True}
        assert sent[2] == {"status": 200, "reports": ["slept"]}
        assert sent[3]["reports"] == [{"value": 1, "label": "x"}]

    import sample_walkers  # noqa: F401 - t_slow and t_echo

    run(scenario)


def test_notifications_from_worker_threads_are_delivered_on_the_loop_in_order() -> None:
    async def scenario() -> None:
        hub = make_hub()
        hub.bind_loop()
        conn, transport = connect(hub, "room")
        loop = asyncio.get_running_loop()

        def from_thread() -> None:
            for n in range(50):
                hub.notifier.notify_channels(["room"], {"n": n})

        await loop.run_in_executor(None, from_thread)
        sent = await transport.wait_for(51)
        assert [m["n"] for m in sent[1:]] == list(range(50))
        del conn

    run(scenario)


def test_rate_limit_drops_answers_once_then_closes_with_1008_if_it_persists() -> None:
    now = [0.0]

    async def scenario() -> None:
        hub = make_hub(Limits(rate_per_second=10, rate_burst=3, rate_grace_seconds=1.0))
        hub.clock = lambda: now[0]
        conn, transport = connect(hub, "room")
        ping = frame({"type": "channel", "channel_ids": ["room"], "data": {}})
        for _ in range(5):
            hub.handle_frame(conn, ping)
        sent = await transport.wait_for(5)
        assert sent[1:4] == [{}, {}, {}]
        assert sent[4]["code"] == "rate_limited" and sent[4]["type"] == "error"
        now[0] += 0.1  # one message of budget back
        hub.handle_frame(conn, ping)
        assert (await transport.wait_for(6))[5] == {}
        hub.handle_frame(conn, ping)  # limited again within the grace period: the same streak, no new answer
        now[0] += 2.0  # calm for longer than the grace period
        for _ in range(4):
            hub.handle_frame(conn, ping)
        sent = await transport.wait_for(10)
        assert sent[6:9] == [{}, {}, {}] and sent[9]["code"] == "rate_limited"  # a new streak is answered again
        for _ in range(30):  # keep flooding for longer than the grace period
            now[0] += 0.05
            hub.handle_frame(conn, ping)
        assert await transport.wait_closed() == (1008, "rate limit exceeded")
        assert [m for m in transport.sent[10:] if m.get("code") == "rate_limited"] == []

    run(scenario)


def test_a_policy_that_raises_is_answered_internal_error_and_the_connection_goes_on() -> None:
    def broken(conn: Connection, event: Any) -> bool:
        raise RuntimeError("policy bug with /secret/path")

    async def scenario() -> None:
        hub = make_hub(policy=broken)
        conn, transport = connect(hub, "room")
        hub.handle_frame(conn, frame({"type": "channel", "channel_ids": ["room"], "data": {}}))
        hub.handle_frame(conn, frame({"type": "connection"}))
        sent = await transport.wait_for(3)
        assert sent[1] == {"type": "error", "error": "internal error; see the server log", "code": "internal_error"}
        assert sent[2]["type"] == "connection"

    run(scenario)


def test_walker_events_beyond_the_queue_limit_are_refused_with_their_id() -> None:
    async def scenario() -> None:
        hub = make_hub(Limits(max_queued_walkers=2))
        conn, transport = connect(hub)
        for n in range(4):  # all four arrive before any starts: two wait, two are too many
            event = {"type": "walker", "walker": "t_slow", "context": {"seconds": 0.05}, "response": True, "id": n}
            hub.handle_frame(conn, frame(event))
        sent = await transport.wait_for(5)
        refused = [m for m in sent if m.get("code") == "rate_limited"]
        message = "too many walker events waiting on this connection (the limit is 2)"
        assert refused == [{"type": "walker", "error": message, "code": "rate_limited", "id": n} for n in (2, 3)]
        assert sorted(m["id"] for m in sent if m.get("status") == 200) == [0, 1]

    import sample_walkers  # noqa: F401 - t_slow

    run(scenario)


def test_a_close_frame_the_peer_never_reads_ends_in_an_abort() -> None:
    class Stuck(RecordingTransport):
        aborted = False

        async def close(self, code: int, reason: str = "") -> None:
            await asyncio.Event().wait()  # the peer never reads: the close frame never leaves

        def abort_now(self) -> None:
            self.aborted = True

    async def scenario() -> None:
        hub = make_hub(Limits(close_timeout=0.1))
        transport = Stuck()
        transport.abort = transport.abort_now  # type: ignore[attr-defined]
        conn = hub.connect(transport, None, "room")
        conn.close(1008, "slow consumer")
        await conn.closed()
        assert transport.aborted

    run(scenario)


class RaisingTransport(RecordingTransport):
    """A transport whose socket breaks once ``broken`` is set: taking a message then raises."""

    broken = False

    def send_nowait(self, data: bytes) -> bool:  # type: ignore[override]
        if self.broken:
            raise OSError("socket is broken")
        return False  # not taken now: the hub queues it


def test_one_raising_socket_is_closed_and_everyone_else_still_gets_the_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        hub = make_hub()
        before = [connect(hub, "room") for _ in range(2)]
        breaking = RaisingTransport()
        broken = hub.connect(breaking, None, "room")
        await breaking.wait_for(1)
        breaking.broken = True
        after = [connect(hub, "room") for _ in range(2)]
        sender, _ = connect(hub)
        for n in range(3):
            hub.handle_frame(sender, frame({"type": "channel", "channel_ids": ["room"], "data": {"n": n}}))
        for _, transport in before + after:
            assert [m.get("n") for m in (await transport.wait_for(4))[1:]] == [0, 1, 2]
        assert broken.state is not ConnectionState.OPEN and broken.close_code == 1011
        assert hub.deliver({"x": broken}, b"{}") == 0  # closing sockets are skipped

    run(scenario)
    assert caplog.text.count("its transport failed to take a message") == 1

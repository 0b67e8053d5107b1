"""Recovery across `jacws serve` processes sharing a real redis-server: offsets from Redis, the same on every
process, and a client that reconnects elsewhere recovers what it missed with no gap and no duplicate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support import WS, quiet
from test_cli import Serve
from test_relay_interest import serving


@pytest.fixture
def pair(redis_url: str) -> Iterator[list[Serve]]:
    """Two processes on a single Redis, then on a Redis Cluster (the numbering script on one primary)."""
    with serving(redis_url, 2) as processes:
        yield processes


def offsets_ws(process: Serve, channel_id: str) -> WS:
    return WS(f"{process.ws_url}?offsets=1&channel_id={channel_id}")


def test_every_process_numbers_a_channel_alike(pair: list[Serve]) -> None:
    first, second = pair
    with offsets_ws(first, "same") as one, offsets_ws(second, "same") as two, WS(first.ws_url) as sender:
        for n in range(5):
            sender.send({"type": "channel", "channel_ids": ["same"], "data": {"n": n}})
        got_one = [one.recv() for _ in range(5)]
        got_two = [two.recv() for _ in range(5)]
        assert [m["offset"] for m in got_one] == [m["offset"] for m in got_two] == list(range(1, 6))
        assert [m["data"]["n"] for m in got_two] == list(range(5))
        quiet(one, two)


@pytest.mark.parametrize("back_on", [0, 1], ids=["same-process", "other-process"])
def test_a_client_recovers_50_missed_messages_then_live_ones_without_gap_or_duplicate(
    pair: list[Serve], back_on: int
) -> None:
    first, second = pair
    channel = f"away-{back_on}"
    with WS(second.ws_url, channel_id="sender") as sender, offsets_ws(first, "witness") as witness:
        witness.send({"type": "join", "channel_ids": [channel]})
        witness.recv()
        away = offsets_ws(first, channel)
        sender.send({"type": "channel", "channel_ids": [channel], "data": {"n": 0}})
        last = away.recv()["offset"]
        assert witness.recv()["offset"] == last
        away.close()
        for n in range(1, 51):
            sender.send({"type": "channel", "channel_ids": [channel], "data": {"n": n}})
        for _ in range(50):  # all 50 numbered and kept before the client comes back
            witness.recv()
        back = offsets_ws(pair[back_on], channel)
        sender.send({"type": "channel", "channel_ids": [channel], "data": {"n": 51}})
        back.send({"type": "recover", "channel_id": channel, "since": last, "id": "r"})
        received: list[dict[str, Any]] = []
        while True:
            message = back.recv()
            if message["type"] == "recovered":
                break
            received.append(message)
        assert message["complete"] is True and message["id"] == "r"
        recovered = [m["offset"] for m in received if m["data"]["n"] != 51]  # (51 may come live, before them)
        assert recovered == sorted(recovered) and len(recovered) == 50
        sender.send({"type": "channel", "channel_ids": [channel], "data": {"n": 52}})
        while len(received) < 52:
            received.append(back.recv())
        numbers = [m["data"]["n"] for m in received]
        assert sorted(numbers) == list(range(1, 53)) and len(set(numbers)) == 52  # no gap, no duplicate
        quiet(back)
        back.close()

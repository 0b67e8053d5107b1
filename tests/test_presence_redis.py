"""Presence across `jacws serve` processes sharing a real redis-server: answers from every process, arrivals and
departures told across, and the members of a process killed outright announced gone within the timeout."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator

import pytest
from support import WS, quiet
from test_cli import Serve
from test_relay_interest import serving

PRESENCE_TIMEOUT = 1.5  # seconds (the default is 20): a killed process's members are gone within about 2 s


@pytest.fixture
def pair(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Serve]]:
    """Two processes on a single Redis, then on a Redis Cluster."""
    monkeypatch.setenv("JACWS_PRESENCE_TIMEOUT", str(PRESENCE_TIMEOUT))
    with serving(redis_url, 2) as processes:
        yield processes


def members(ws: WS, channel_id: str) -> set[str]:
    ws.send({"type": "presence", "channel_id": channel_id})
    answer = ws.recv()
    assert answer["type"] == "presence", answer
    return {m["client_id"] for m in answer["members"]}


def test_presence_answers_and_changes_cross_processes(pair: list[Serve]) -> None:
    first, second = pair
    with WS(first.ws_url, channel_id="lobby") as here:
        here.send({"type": "join", "channel_ids": ["lobby"], "presence": True})
        assert here.recv()["channel_ids"] == ["lobby"]
        there = WS(second.ws_url, channel_id="lobby")
        joined = here.recv()
        assert joined["type"] == "presence_join" and joined["client_id"] == there.client_id
        assert members(here, "lobby") == {here.client_id, there.client_id}
        assert members(there, "lobby") == {here.client_id, there.client_id}
        there.send({"type": "leave", "channel_ids": ["lobby"]})
        there.recv()
        left = here.recv()
        assert left == {
            "type": "presence_leave",
            "channel_id": "lobby",
            "client_id": there.client_id,
            "root_id": there.root_id,
        }
        assert members(here, "lobby") == {here.client_id}
        there.close()
        quiet(here)


def test_the_members_of_a_killed_process_are_announced_gone_within_the_timeout(pair: list[Serve]) -> None:
    first, second = pair
    with WS(first.ws_url, channel_id="crash") as watcher:
        watcher.send({"type": "join", "channel_ids": ["crash"], "presence": True})
        watcher.recv()
        doomed = [WS(second.ws_url, channel_id="crash") for _ in range(3)]
        arrived = {watcher.recv()["client_id"] for _ in doomed}
        assert arrived == {ws.client_id for ws in doomed}
        assert members(watcher, "crash") == {watcher.client_id} | arrived
        second.process.send_signal(signal.SIGKILL)  # no close, no leave: the process is just gone
        killed = time.monotonic()
        gone = set()
        while gone != arrived:
            message = watcher.recv(timeout=PRESENCE_TIMEOUT * 4)
            assert message["type"] == "presence_leave", message
            gone.add(message["client_id"])
        assert time.monotonic() - killed < 30  # the bound; with this timeout, about 2 s
        assert members(watcher, "crash") == {watcher.client_id}
        quiet(watcher)
        for ws in doomed:  # their server is gone: closing them is only tidying up
            with contextlib.suppress(Exception):
                ws.close()

"""Correctness under load, at sizes that run in seconds: no loss, no duplicates, order kept; server.load()."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from support import TIMEOUT
from websockets.asyncio.client import ClientConnection, connect

from jacws.errors import ServerError
from jacws.server import Server
from jacws.settings import Settings

SUBSCRIBERS = 50
EVENTS = 200
CALLERS = 20
CALLS = 50


async def _open(url: str) -> tuple[ClientConnection, dict[str, Any]]:
    ws = await connect(url, open_timeout=TIMEOUT, max_size=None)
    first = orjson.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    return ws, first["data"]


def test_channel_fan_out_under_load_loses_duplicates_and_reorders_nothing(server: Server) -> None:
    async def scenario() -> list[list[int]]:
        subscribers = [await _open(server.ws_url + "?channel_id=load") for _ in range(SUBSCRIBERS)]
        publisher, _ = await _open(server.ws_url)

        async def read(ws: ClientConnection) -> list[int]:
            return [orjson.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["n"] for _ in range(EVENTS)]

        readers = [asyncio.create_task(read(ws)) for ws, _ in subscribers]
        for n in range(EVENTS):
            await publisher.send(orjson.dumps({"type": "channel", "channel_ids": ["load"], "data": {"n": n}}).decode())
        received = await asyncio.gather(*readers)
        for ws, _ in [*subscribers, (publisher, None)]:
            await ws.close()
        return received

    received = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert received == [list(range(EVENTS))] * SUBSCRIBERS


def test_concurrent_walker_calls_are_each_answered_once_in_order(server: Server) -> None:
    async def caller(url: str) -> list[Any]:
        ws, _ = await _open(url)
        for n in range(CALLS):  # pipelined: every call sent before any answer is read
            event = {"type": "walker", "walker": "t_echo", "context": {"value": n}, "response": True, "id": n}
            await ws.send(orjson.dumps(event).decode())
        answers = [orjson.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)) for _ in range(CALLS)]
        await ws.close()
        return answers

    async def scenario() -> list[list[Any]]:
        return await asyncio.gather(*(caller(server.ws_url) for _ in range(CALLERS)))

    for answers in asyncio.run(asyncio.wait_for(scenario(), 60)):
        assert [a["id"] for a in answers] == list(range(CALLS))
        assert [a["reports"][0]["value"] for a in answers] == list(range(CALLS))


# -- server.load(): lightweight clients in a process of their own (jacws.load, jacws.loadgen) --


def test_a_load_fans_out_with_live_numbers_and_loses_nothing() -> None:
    with Server(Settings(port=0)) as server:
        load = server.load(clients=30, channel_id="load", rate=200, seconds=3, payload=100)
        live = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not load.finished:  # polled as the panel does, twice a second
            numbers = server.metrics()
            if numbers["load"].get("delivered_per_s", 0) > 0 and numbers["messages_out_per_s"] > 0:
                live = numbers
                break
            load.wait_for_figures(0.5)
        assert live is not None, "no messages per second while the load ran"
        assert live["channels"]["load"] == 30 and live["messages_in_per_s"] > 0
        final = load.wait(timeout=60)
    assert final["published"] == 600 and final["lost"] == 0
    assert final["delivered"] == final["expected"] == 600 * 30
    assert 0 < final["latency_p50_ms"] <= final["latency_p99_ms"]
    assert "lost 0" in repr(load)


def test_a_slow_consumer_is_closed_with_1008_while_the_others_get_everything() -> None:
    with Server(Settings(port=0).with_changes(max_backlog_messages=100, slow_consumer_seconds=1)) as server:
        load = server.load(clients=10, channel_id="slow", rate=200, seconds=6, payload=8000, slow=1)
        final = load.wait(timeout=60)
        assert server.metrics()["closed_by_server"] == {"1008": 1}
    assert final["lost"] == 0 and final["expected"] == final["published"] * 9  # nine readers, all still open
    assert final["closed"] in ({"1006": 1}, {"1008": 1})  # the slow one: its close frame sat behind unread data


def test_impossible_figures_and_a_stopped_server_are_refused() -> None:
    server = Server(Settings(port=0))
    with pytest.raises(ServerError, match="not running"):
        server.load()
    with server, pytest.raises(ValueError, match="0 <= slow < clients"):
        server.load(clients=2, slow=2)

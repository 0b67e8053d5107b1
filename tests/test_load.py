"""Correctness under load, at sizes that run in seconds: no loss, no duplicates, order kept."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from support import TIMEOUT
from websockets.asyncio.client import ClientConnection, connect

from jacws.server import Server

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

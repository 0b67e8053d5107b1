"""The baseline: the subset of the jacws protocol the benchmarks use, written directly on `websockets`.

Connection event, channel fan-out with ``websockets.broadcast``, and a walker echo
(``{"status": 200, "reports": [context]}``). Run: ``python bench/baseline.py --port 8001``.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection, broadcast, serve

CHANNELS: dict[str, set[ServerConnection]] = {}


async def handler(ws: ServerConnection) -> None:
    query = parse_qs(urlsplit(ws.request.path).query) if ws.request else {}
    client_id = f"{int(time.time())}:{secrets.token_hex(16)}"
    channel = (query.get("channel_id") or [client_id])[0]
    CHANNELS.setdefault(channel, set()).add(ws)
    info = {"client_id": client_id, "root_id": "n::000000000000000000000001", "channel_id": channel}
    await ws.send(orjson.dumps({"type": "connection", "data": info}).decode())
    try:
        async for frame in ws:
            event = orjson.loads(frame)
            kind = event.get("type")
            if kind == "channel":
                text = orjson.dumps(event["data"]).decode()
                targets: set[ServerConnection] = set()
                for name in event["channel_ids"]:
                    targets |= CHANNELS.get(name, set())
                broadcast(targets, text)
            elif kind == "walker":
                answer = {"status": 200, "reports": [event.get("context", {})]}
                if "id" in event:
                    answer["id"] = event["id"]
                await ws.send(orjson.dumps(answer).decode())
            elif kind == "connection":
                await ws.send(orjson.dumps({"type": "connection", "data": info}).decode())
    finally:
        members = CHANNELS.get(channel)
        if members is not None:
            members.discard(ws)
            if not members:
                del CHANNELS[channel]


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, max_size=1 << 20, backlog=2048, compression=None) as server:
        print(f"baseline ready on {port} pid {os.getpid()}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    logging.getLogger("websockets").setLevel(logging.CRITICAL)  # clients that vanish are part of the load
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    import uvloop

    uvloop.run(main(args.port))

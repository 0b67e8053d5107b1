"""The load generator's own process: lightweight websocket clients that publish on one channel and count.

Run by :mod:`jacws.load` as ``python -m jacws.loadgen SPEC`` (a JSON object), so the clients
never share the server's interpreter. Every client joins the channel; once all are in, they
publish ``rate`` channel events per second between them, each carrying its publisher, its
number and its send time, for ``seconds``; then each reading client waits (a few seconds at
most) until it has everything that was published. The ``slow`` clients read their
connection event and then nothing (a tiny receive buffer), so the server's backlog for them
grows until it closes them. A JSON line of figures goes to stdout four times a second and a
last one, ``"final": true``, with the losses. The process ends by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
import time
from collections import Counter, deque
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .metrics import percentile

__all__ = ["main"]

REPORT_EVERY = 0.25
DRAIN_SECONDS = 5.0
WINDOW = 1.0


class Figures:
    """What the clients did so far."""

    def __init__(self, clients: int) -> None:
        self.clients = clients
        self.connected = 0
        self.published = 0
        self.delivered = 0
        self.received: list[int] = [0] * clients
        self.recent: deque[tuple[float, float]] = deque()  # (receive time, latency) of the last second
        self.latencies: deque[float] = deque(maxlen=20_000)
        self.closed: Counter[str] = Counter()
        self.errors: list[str] = []
        self.phase = "connecting"
        self.started = time.monotonic()

    def got(self, index: int, sent_at: float) -> None:
        now = time.time()
        latency = now - sent_at
        self.received[index] += 1
        self.delivered += 1
        self.recent.append((now, latency))
        self.latencies.append(latency)

    def line(self, final: bool = False, readers: list[int] | None = None) -> dict[str, Any]:
        now = time.time()
        while self.recent and now - self.recent[0][0] > WINDOW:
            self.recent.popleft()
        window = [latency for _, latency in self.recent]
        sample = window if window and not final else list(self.latencies)
        p50, p99 = percentile(sample, 0.5), percentile(sample, 0.99)
        figures: dict[str, Any] = {
            "phase": "done" if final else self.phase,
            "clients": self.clients,
            "connected": self.connected,
            "published": self.published,
            "delivered": self.delivered,
            "delivered_per_s": round(len(window) / WINDOW, 1),
            "latency_p50_ms": None if p50 is None else round(p50 * 1000, 2),
            "latency_p99_ms": None if p99 is None else round(p99 * 1000, 2),
            "closed": dict(self.closed),
            "errors": self.errors[:5],
            "elapsed": round(time.monotonic() - self.started, 2),
        }
        if readers is not None:  # the end: what each reading client still open is missing
            figures["lost"] = sum(max(0, self.published - self.received[i]) for i in readers)
            figures["expected"] = self.published * len(readers)
        return figures


def _emit(line: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
    sys.stdout.flush()


async def _open(url: str, slow: bool) -> ClientConnection:
    if not slow:
        return await connect(url, open_timeout=10, max_size=None, ping_interval=None)
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a small window
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (parts.hostname or "127.0.0.1", parts.port or 80))
    return await connect(url, sock=sock, open_timeout=10, max_size=None, max_queue=1, ping_interval=None)


async def _read(ws: ClientConnection, index: int, figures: Figures, count: bool = True) -> None:
    try:
        async for frame in ws:
            data = orjson.loads(frame)
            body = data.get("load") if isinstance(data, dict) else None
            if isinstance(body, list) and len(body) == 3:
                if count:
                    figures.got(index, float(body[2]))
            elif isinstance(data, dict) and "error" in data and len(figures.errors) < 5:
                figures.errors.append(str(data.get("error"))[:200])
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd is not None else 1006
        figures.closed[str(code)] += 1


async def run(spec: dict[str, Any]) -> None:
    """Connect, publish, drain and report, as ``spec`` says."""
    clients, slow = int(spec["clients"]), int(spec.get("slow", 0))
    channel, rate, seconds = str(spec["channel_id"]), float(spec["rate"]), float(spec["seconds"])
    filler = "x" * int(spec.get("payload", 100))
    url = f"{spec['ws_url']}?channel_id={quote(channel)}"
    figures = Figures(clients)
    reporting = asyncio.create_task(_report(figures))
    sockets: list[ClientConnection] = []
    for index in range(clients):
        try:
            ws = await _open(url, index >= clients - slow)
            await asyncio.wait_for(ws.recv(), 10)  # the connection event
        except Exception as error:
            figures.errors.append(f"client {index} could not connect: {error}")
            break
        sockets.append(ws)
        figures.connected += 1
    readers = list(range(len(sockets) - slow if len(sockets) == clients else len(sockets)))
    tasks = [asyncio.create_task(_read(sockets[i], i, figures)) for i in readers]
    figures.phase = "publishing"
    publishers = [sockets[i] for i in readers] or sockets
    begun = time.monotonic()
    total = int(rate * seconds)
    for number in range(total if publishers else 0):
        due = begun + number / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        ws = publishers[number % len(publishers)]
        data = {"load": [number % len(publishers), number, time.time()], "filler": filler}
        event = {"type": "channel", "channel_ids": [channel], "data": data}
        try:
            await ws.send(orjson.dumps(event).decode())
        except ConnectionClosed:
            continue
        figures.published += 1
    figures.phase = "draining"
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline and any(
        figures.received[i] < figures.published for i, task in zip(readers, tasks, strict=True) if not task.done()
    ):
        await asyncio.sleep(0.05)
    still_open = [i for i, task in zip(readers, tasks, strict=True) if not task.done()]
    for index in range(len(readers), len(sockets)):  # the slow ones: read now, to learn how they ended
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(_read(sockets[index], index, figures, count=False), 2)
    for ws in sockets:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 2)
    for task in tasks:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 2)
    reporting.cancel()
    _emit({**figures.line(final=True, readers=still_open), "final": True})


async def _report(figures: Figures) -> None:
    while True:
        await asyncio.sleep(REPORT_EVERY)
        _emit(figures.line())


def main() -> None:
    """``python -m jacws.loadgen SPEC``: run one load and exit (at once if the parent is gone)."""
    spec = orjson.loads(sys.argv[1])
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: never outlive the kernel
    if os.getppid() != int(spec["parent"]):
        sys.exit(1)
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(spec))
    else:
        uvloop.run(run(spec))


if __name__ == "__main__":
    main()

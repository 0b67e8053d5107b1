"""Recording fakes for testing the core without sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson


class RecordingTransport:
    """A transport that records what is sent; ``stall()`` makes it stop "reading", ``holds`` what the hub held."""

    send_nowait = None  # the hub's queued path only; the fast path is tested over real sockets
    abort = None

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.closed: tuple[int, str] | None = None
        self._open = asyncio.Event()
        self._open.set()
        self.arrived = asyncio.Condition()
        self.holds: list[float] = []

    def hold(self, seconds: float) -> None:
        """The hub asks to stop reading this socket for ``seconds`` (a publisher over its budget)."""
        self.holds.append(seconds)

    def stall(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def send(self, data: bytes) -> None:
        await self._open.wait()
        async with self.arrived:
            self.sent.append(orjson.loads(data))
            self.arrived.notify_all()

    async def close(self, code: int, reason: str = "") -> None:
        async with self.arrived:
            self.closed = (code, reason)
            self.arrived.notify_all()

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Any]:
        """Wait until ``count`` messages were sent; return them."""
        async with asyncio.timeout(timeout), self.arrived:
            await self.arrived.wait_for(lambda: len(self.sent) >= count)
        return self.sent

    async def wait_closed(self, timeout: float = 5.0) -> tuple[int, str]:
        async with asyncio.timeout(timeout), self.arrived:
            await self.arrived.wait_for(lambda: self.closed is not None)
        assert self.closed is not None
        return self.closed


class RecordingNotifier:
    """A notifier that records every notify call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any]] = []

    def notify_self(self, data: Any) -> None:
        self.calls.append(("self", None, data))

    def notify_users(self, roots: Any, data: Any) -> None:
        self.calls.append(("users", list(roots), data))

    def notify_channels(self, channel_ids: Any, data: Any) -> None:
        self.calls.append(("channels", list(channel_ids), data))

    def notify_clients(self, client_ids: Any, data: Any) -> None:
        self.calls.append(("clients", list(client_ids), data))

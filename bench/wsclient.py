"""A lean websocket client for load generation: websockets' sans-I/O protocol over an asyncio Protocol.

No task per connection and no per-message queue: frames are handed to a callback as
they are parsed, so one load process can drive thousands of sockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri


class LeanClient(asyncio.Protocol):
    """One websocket connection; ``on_text(client, payload_bytes)`` is called for every text frame."""

    def __init__(
        self,
        uri: str,
        on_text: Callable[[LeanClient, bytes], None],
        headers: dict[str, str] | None = None,
        read: bool = True,
        state: dict[str, Any] | None = None,
    ) -> None:
        self.protocol = ClientProtocol(parse_uri(uri), max_size=None)
        self.on_text = on_text
        self.headers = headers or {}
        self.read = read
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self.state: dict[str, Any] = state if state is not None else {}
        self._writable = asyncio.Event()
        self._writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport
        request = self.protocol.connect()
        request.headers.update(self.headers)
        self.protocol.send_request(request)
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    self.on_text(self, event.data)
                    if not self.read and self.transport is not None:
                        self.transport.pause_reading()  # a client that stops reading after its first message
                elif event.opcode is Opcode.CLOSE:
                    self.close_code = self.protocol.close_rcvd.code if self.protocol.close_rcvd else None
            elif isinstance(event, Response) and not self.opened.done():
                if self.protocol.handshake_exc is None:
                    self.opened.set_result(None)
                else:
                    self.opened.set_exception(self.protocol.handshake_exc)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during handshake"))
        if not self.closed.done():
            received = self.protocol.close_rcvd
            self.closed.set_result(received.code if received else self.close_code)

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    async def drain(self) -> None:
        """Wait while the write buffer is above its high-water mark (a real client's flow control)."""
        await self._writable.wait()

    async def flushed(self) -> None:
        """Wait until everything written has left the process."""
        assert self.transport is not None
        while self.transport.get_write_buffer_size():
            await asyncio.sleep(0.01)

    def _flush(self) -> None:
        assert self.transport is not None
        data = self.protocol.data_to_send()
        if data:
            for chunk in data:
                if chunk:
                    self.transport.write(chunk)
                else:
                    self.transport.write_eof() if self.transport.can_write_eof() else None

    def send_text(self, text: str | bytes) -> None:
        self.protocol.send_text(text.encode() if isinstance(text, str) else text)
        self._flush()

    def resume(self) -> None:
        assert self.transport is not None
        self.read = True
        self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            try:
                self.protocol.send_close(1000)
                self._flush()
            except Exception:
                pass
            self.transport.close()


async def open_client(
    host: str,
    port: int,
    path: str,
    on_text: Callable[[LeanClient, bytes], None],
    headers: dict[str, str] | None = None,
    read: bool = True,
    timeout: float = 30,
    state: dict[str, Any] | None = None,
) -> LeanClient:
    loop = asyncio.get_running_loop()
    uri = f"ws://{host}:{port}{path}"
    _, client = await asyncio.wait_for(
        loop.create_connection(lambda: LeanClient(uri, on_text, headers, read, state), host, port), timeout
    )
    await asyncio.wait_for(client.opened, timeout)
    return client

"""``/websocket`` as a raw ASGI app: admission (server full, crowded address), the handshake, then frames to the hub.

On jacws's own protocol (:mod:`jacws.wsprotocol`) the protocol is the connection's transport and frames come
straight from it; on any other ASGI server, ``receive`` and ``send`` through :class:`_SocketTransport`.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, cast
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from .addresses import client_address
from .connection import Connection, Transport
from .protocol import PUBLIC_ROOT_ID, encode, new_channel_id, new_client_id
from .trace import TRACE_HEADER, claim_trace
from .wsasgi import SOCKET

if TYPE_CHECKING:
    from .hub import Hub
    from .runtime import Runtime

__all__ = ["WebSocketEndpoint"]


class _SocketTransport:
    """The hub's :class:`~jacws.connection.Transport` over a plain ASGI websocket ``send`` (servers other than
    jacws's own protocol): no fast path, no abort, and a hold the endpoint's receive loop honours."""

    __slots__ = ("_send", "abort", "held_until", "hold", "send_nowait")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.send_nowait: Callable[[bytes], bool] | None = None
        self.abort: Callable[[], None] | None = None
        self.hold: Callable[[float], None] | None = self._hold_in_loop
        self.held_until = 0.0

    def _hold_in_loop(self, seconds: float) -> None:
        self.held_until = max(self.held_until, time.monotonic() + seconds)

    async def send(self, data: bytes) -> None:
        await self._send({"type": "websocket.send", "text": data.decode()})

    async def close(self, code: int, reason: str = "") -> None:
        await self._send({"type": "websocket.close", "code": code, "reason": reason})


async def _refuse(scope: Scope, send: Send, status: int, message: str, code: str = "unavailable") -> None:
    """Refuse a handshake with an HTTP status (the ASGI denial-response extension) or a close with 1013."""
    if "websocket.http.response" in (scope.get("extensions") or {}):
        body = encode({"error": message, "code": code})
        headers = [(b"content-type", b"application/json"), (b"retry-after", b"5")]
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:  # pragma: no cover - servers without the extension
        await send({"type": "websocket.close", "code": 1013})


_TRACE_HEADER = TRACE_HEADER.encode()


class WebSocketEndpoint:
    """``/websocket`` as a raw ASGI app: no per-message wrapper objects on the hot path."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        hub = self.runtime.hub
        if hub.full:
            await _refuse(scope, send, 503, "this server is full; try again later")
            return
        address = client_address(scope)
        if not hub.arrive(address):
            limit = hub.limits.max_connections_per_address
            hub.warnings.warning("crowded address", "refused a socket from %s: it has %d open", address, limit)
            why = f"too many connections from your address: at most {limit} at once"
            await _refuse(scope, send, 429, why, "too_many_connections")
            return
        adopted = False
        try:
            adopted = await self._serve(scope, receive, send, address)
        finally:
            if not adopted:
                hub.leave(address)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, address: str) -> bool:
        """Serve one socket; True when jacws's protocol carries on with it after this returns (it then
        forgets the connection and its address when the socket is gone)."""
        hub = self.runtime.hub
        socket = (scope.get("extensions") or {}).get(SOCKET)  # jacws's own protocol: it is the transport
        hub.handshakes += 1
        try:
            await send({"type": "websocket.accept"})
            plain = _SocketTransport(send)
            conn = await self._connect(scope, plain if socket is None else cast(Transport, socket), address)
        finally:
            hub.handshakes -= 1
        handle = hub.handle_frame
        adopted = False
        try:
            if socket is not None:  # frames come straight from the protocol as they are parsed; no task waits
                socket.on_message(lambda frame: handle(conn, frame))
                socket.on_close(functools.partial(_gone, hub, conn, address))
                adopted = True
                return True
            while True:  # any other ASGI server: the receive queue
                if plain.held_until:  # a publisher over its budget
                    await asyncio.sleep(max(0.0, plain.held_until - time.monotonic()))
                    plain.held_until = 0.0
                message = await receive()
                if message["type"] == "websocket.receive":
                    text = message.get("text")
                    handle(conn, text if text is not None else message.get("bytes") or b"")
                elif message["type"] == "websocket.disconnect":
                    break
        finally:
            if not adopted:
                hub.disconnect(conn)
        return False

    async def _connect(self, scope: Scope, transport: Transport, address: str) -> Connection:
        header = None
        trace = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                header = value.decode("latin-1")
            elif name == _TRACE_HEADER:  # a simulated client of this process (jacws.trace); others are ignored
                trace = claim_trace(value.decode("latin-1"))
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        channel_id = (query.get("channel_id") or [None])[0]
        offsets = (query.get("offsets") or [""])[0] in ("1", "true")  # channel messages with their offsets
        claims = self.runtime.claims_or_none(header) if header else None
        hub = self.runtime.hub
        if not hub.relay.routes_by_interest:
            return hub.connect(transport, claims, channel_id, trace, address, offsets=offsets)
        # Other processes' messages for this socket must reach this one before its connection event goes out.
        client_id, channel_id = new_client_id(), channel_id or new_channel_id()
        root_id = claims.root_id if claims else PUBLIC_ROOT_ID
        release = await hub.relay.hold([("client", client_id), ("channel", channel_id), ("user", root_id)])
        try:
            return hub.connect(transport, claims, channel_id, trace, address, client_id, offsets)
        finally:
            release()


def _gone(hub: Hub, conn: Connection, address: str) -> None:
    """An adopted socket is gone: forget its connection, and count it off its address."""
    hub.disconnect(conn)
    hub.leave(address)

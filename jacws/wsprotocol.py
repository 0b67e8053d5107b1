"""jacws's websocket protocol: one connection over the websockets library's sans-I/O ``ServerProtocol``.

uvicorn takes it as its websocket protocol class (the documented ``ws`` option): after the HTTP
upgrade it is the connection's asyncio protocol. It speaks ASGI to the application for the
handshake (so every middleware, refusal and denial response works as with uvicorn's own), and
it is the hub's :class:`~jacws.connection.Transport` itself, handed to the application in the scope as
``extensions["jacws.socket"]``: frames go to the callback given to :meth:`on_message` as they are
parsed, and :meth:`send_nowait` writes a frame at once when the socket can take it. Once the
application has registered :meth:`on_close`, it returns: an open connection then holds no task. Everything it
uses of websockets is documented: ``receive_data``, ``events_received``, ``accept``,
``send_response``, ``send_text``, ``send_close``, ``send_ping``, ``fail``, ``data_to_send``; of
uvicorn, the constructor uvicorn calls and its ``Config`` and ``ServerState``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from .wsasgi import SOCKET, access_line, denial, websocket_scope

__all__ = ["SOCKET", "JacWSProtocol"]

CLOSE_TIMEOUT = 10.0
"""Seconds the peer has to answer our close frame before the TCP connection is closed anyway."""

log = logging.getLogger("uvicorn.error")  # uvicorn's request lines, where deployments already look for them
_wire = logging.getLogger("jacws.wire")
_wire.setLevel(logging.WARNING)  # websockets logs frames at debug: a token in a frame must never reach a log

_last_frame = threading.local()
"""Per loop thread: the last payload :meth:`JacWSProtocol.send_nowait` framed, and its frame."""


class JacWSProtocol(asyncio.Protocol):
    """One websocket connection: handshake through the ASGI app, then the hub's transport.

    Args:
        config: uvicorn's configuration (the app, the frame size limit, keepalive pings).
        server_state: uvicorn's server state (its connections and tasks).
        app_state: the lifespan state copied into each scope.
    """

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None) -> None:
        if not config.loaded:
            config.load()
        self.app = config.loaded_app
        self.root_path: str = config.root_path
        self.app_state = app_state
        self.connections: set[Any] = server_state.connections
        self.tasks: set[asyncio.Task[None]] = server_state.tasks
        self.ping_interval: float | None = config.ws_ping_interval
        self.ping_timeout: float | None = config.ws_ping_timeout
        self.proto = ServerProtocol(max_size=config.ws_max_size, logger=_wire)
        self.transport: asyncio.Transport | None = None
        self.scope: dict[str, Any] | None = None
        self.accepted = False
        self.answered = False  # a handshake response (101 or a refusal) went out
        self.disconnected = False
        self.close_code: int | None = None
        # A deque and futures made when something waits, rather than asyncio's Queue and Events (3.3 KB and
        # 0.9 KB each): an idle connection costs what it holds.
        self._events: deque[dict[str, Any]] = deque()  # ASGI receive() events
        self._event_waiter: asyncio.Future[None] | None = None
        self._receiver: Callable[[str | bytes], None] | None = None
        self._parts: list[bytes] = []
        self._text = True
        self._gone = False
        self._closed_waiter: asyncio.Future[None] | None = None
        self._on_close: Callable[[], None] | None = None  # set: the app left the connection to us
        self._writable = True
        self._drained: asyncio.Future[None] | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._ping_payload: bytes | None = None
        self._held_until = 0.0
        self._response: Response | None = None  # the 101 to send once the app accepts
        self._denial: tuple[int, list[tuple[bytes, bytes]]] = (403, [])

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.connections.add(self)

    def data_received(self, data: bytes) -> None:
        proto = self.proto
        proto.receive_data(data)
        events = proto.events_received()
        if events:
            self._flush()  # pongs websockets queued while parsing go before any answer to the messages
        for event in events:
            if isinstance(event, Frame):
                self._frame(event)
            elif isinstance(event, Request):
                self._handshake(event)
        if proto.handshake_exc is not None and not self.answered:  # not a websocket request at all
            self.answered = True
            if not proto.data_to_send():
                proto.send_response(proto.reject(400, "Failed to open a WebSocket connection: invalid request.\n"))
        self._flush()

    def eof_received(self) -> bool | None:
        self.proto.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self.disconnected = True
        self.resume_writing()  # a send waiting for the buffer to drain gives up now
        if self.close_code is None:  # the peer's close code, else ours (a protocol error), else none at all
            close = self.proto.close_rcvd or self.proto.close_sent
            self.close_code = close.code if close is not None else 1006
        self._put_event({"type": "websocket.disconnect", "code": self.close_code})
        self._gone = True
        _settle(self._closed_waiter)
        self._receiver = None  # (it holds the connection, which holds this protocol)
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            try:
                on_close()
            except Exception:
                log.exception("jacws failed to forget a closed websocket")
        self.connections.discard(self)

    def pause_writing(self) -> None:
        self._writable = False

    def resume_writing(self) -> None:
        self._writable = True
        _settle(self._drained)

    def shutdown(self) -> None:
        """The server is stopping: close with 1001 (or refuse a handshake still in progress)."""
        if self.accepted and self.proto.state is State.OPEN:
            self.proto.send_close(1001, "server shutdown")
            self._flush()
            self._start_timer("close", CLOSE_TIMEOUT, self._close_transport)
        elif not self.answered:
            self._respond(self.proto.reject(503, "the server is shutting down\n"))
            self._close_transport()

    # -- the hub's transport ----------------------------------------------------------------

    def send_nowait(self, data: bytes) -> bool:
        """Write one text frame now if that needs no waiting; whether it was written.

        A server's frames are not masked and jacws negotiates no compression, so a message's frame
        is the same bytes for every recipient: it is built once per fan-out (the last payload's
        frame is remembered per loop thread) instead of once per socket.
        """
        transport = self.transport
        if not self._writable or self.proto.state is not State.OPEN or transport is None or transport.is_closing():
            return False
        memo = _last_frame.__dict__
        if memo.get("data") is not data:
            memo["data"] = data
            memo["frame"] = Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])
        transport.write(memo["frame"])
        return True

    async def send(self, data: bytes) -> None:
        """Send one text frame, waiting while the peer does not read.

        Raises:
            ConnectionError: the connection is closing or gone.
        """
        await self._wait_writable()
        if self.proto.state is not State.OPEN or self.disconnected:
            raise ConnectionError("the websocket is closing")
        self.proto.send_text(data)
        self._flush()

    async def close(self, code: int, reason: str = "") -> None:
        """Send a close frame (once the write buffer has room); the TCP connection follows the peer's
        answer, or :data:`CLOSE_TIMEOUT`."""
        await self._wait_writable()
        if self.proto.state is State.OPEN and not self.disconnected:
            self.proto.send_close(code, reason)
            self._flush()
            self._start_timer("close", CLOSE_TIMEOUT, self._close_transport)

    def abort(self) -> None:
        """Drop the TCP connection now (a peer that does not even read our close frame)."""
        if self.transport is not None:
            self.transport.abort()

    def hold(self, seconds: float) -> None:
        """Stop reading the socket for ``seconds`` from now (a longer hold already set stands)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        if until <= self._held_until:
            return
        self._held_until = until
        if "hold" in self._timers:
            self._timers.pop("hold").cancel()
        else:
            transport.pause_reading()
        self._timers["hold"] = loop.call_at(until, self._release)

    def on_message(self, receiver: Callable[[str | bytes], None]) -> None:
        """Hand every message from now on to ``receiver`` as it is parsed (queued ones first)."""
        self._receiver = receiver
        kept: list[dict[str, Any]] = []
        while self._events:
            event = self._events.popleft()
            if event["type"] == "websocket.receive":
                text = event.get("text")
                receiver(text if text is not None else event.get("bytes") or b"")
            else:
                kept.append(event)
        self._events.extend(kept)

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once the TCP connection is gone. The application may then return while the
        connection stays open: it needs no task of its own while the socket lives."""
        if self._gone:
            callback()
        else:
            self._on_close = callback

    async def wait_closed(self) -> int:
        """Wait until the TCP connection is gone; return the close code."""
        if not self._gone:
            self._closed_waiter = asyncio.get_running_loop().create_future()
            await self._closed_waiter
        assert self.close_code is not None
        return self.close_code

    # -- handshake and ASGI -----------------------------------------------------------------

    def _handshake(self, request: Request) -> None:
        response = self.proto.accept(request)
        if response.status_code != 101:  # not a valid websocket handshake: websockets says why
            self._respond(response)
            self._close_transport()
            return
        self._response = response
        assert self.transport is not None
        self.scope = websocket_scope(request, self.transport, self.root_path, self.app_state, self)
        self._put_event({"type": "websocket.connect"})
        task = asyncio.get_running_loop().create_task(self._run_app())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run_app(self) -> None:
        assert self.scope is not None
        try:
            await self.app(self.scope, self._receive, self._send)
        except Exception:
            log.exception("Exception in ASGI application")
            if not self.answered:
                self._respond(self.proto.reject(500, "Internal Server Error\n"))
        else:
            if not self.answered:
                log.error("ASGI callable returned without completing handshake.")
                self._respond(self.proto.reject(500, "Internal Server Error\n"))
        self.scope = None  # the request's headers and the app's state are no longer needed
        if not self.accepted:
            self._close_transport()
        elif self._on_close is not None or self._gone:
            return  # the app handed the connection over (on_close): it lives on without the app's task
        elif self.proto.state is State.OPEN and not self.disconnected:  # the app left an open socket: close it
            self.proto.send_close(1000)
            self._flush()
            self._start_timer("close", CLOSE_TIMEOUT, self._close_transport)

    async def _receive(self) -> dict[str, Any]:
        while not self._events:
            self._event_waiter = asyncio.get_running_loop().create_future()
            await self._event_waiter
        return self._events.popleft()

    def _put_event(self, event: dict[str, Any]) -> None:
        self._events.append(event)
        _settle(self._event_waiter)

    async def _wait_writable(self) -> None:
        while not self._writable and not self.disconnected:
            self._drained = asyncio.get_running_loop().create_future()
            await self._drained

    async def _send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if not self.answered:
            if kind == "websocket.accept":
                self._accept(message)
            elif kind == "websocket.close":
                self._respond(self.proto.reject(403, ""))
                self._close_transport()
            elif kind == "websocket.http.response.start":
                self._denial = (message["status"], message.get("headers", []))
            elif kind == "websocket.http.response.body":
                status, headers = self._denial
                self._respond(denial(self.proto.reject(status, ""), headers, message.get("body", b"")))
                self._close_transport()
            else:
                raise RuntimeError(f"unexpected ASGI message {kind!r} before the handshake was answered")
            return
        if kind == "websocket.send":
            text = message.get("text")
            if text is not None:
                await self.send(text.encode())
            else:
                await self._wait_writable()
                if self.proto.state is State.OPEN:
                    self.proto.send_binary(message.get("bytes") or b"")
                    self._flush()
        elif kind == "websocket.close":
            await self.close(message.get("code", 1000), message.get("reason") or "")

    def _accept(self, message: dict[str, Any]) -> None:
        response = self._response
        assert response is not None
        for name, value in message.get("headers", []):
            response.headers[name.decode("latin-1")] = value.decode("latin-1")
        if message.get("subprotocol"):
            response.headers["Sec-WebSocket-Protocol"] = message["subprotocol"]
        assert self.scope is not None
        log.info('%s - "WebSocket %s" [accepted]', *access_line(self.scope))
        self._respond(response)
        self._response = None
        self.accepted = True
        self._start_keepalive()

    def _respond(self, response: Response) -> None:
        self.answered = True
        self.proto.send_response(response)
        self._flush()

    # -- frames -----------------------------------------------------------------------------

    def _frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            self._text = opcode is Opcode.TEXT
            self._parts = [bytes(frame.data)]
        elif opcode is Opcode.CONT:
            self._parts.append(bytes(frame.data))
        elif opcode is Opcode.PONG:
            if self._ping_payload is not None and bytes(frame.data) == self._ping_payload:
                self._ping_payload = None
                self._stop_timer("pong")
                self._schedule_ping()
            return
        elif opcode is Opcode.CLOSE:
            self._closing(self.proto.close_rcvd)
            return
        else:  # a ping: websockets queued the pong
            return
        if not frame.fin:
            return
        data = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
        self._parts = []
        if self.proto.state is State.CLOSING or self.proto.state is State.CLOSED:
            return  # past a close frame: nothing more reaches the app (before the accept, it waits)
        payload: str | bytes = data
        if self._text:
            try:
                payload = data.decode()
            except UnicodeDecodeError:
                self.proto.fail(1007, "invalid UTF-8 in a text frame")
                return
        receiver = self._receiver
        if receiver is None:
            self._put_event(
                {"type": "websocket.receive", "text": payload}
                if isinstance(payload, str)
                else {"type": "websocket.receive", "bytes": payload}
            )
            return
        try:
            receiver(payload)
        except Exception:
            log.exception("jacws failed to handle a message")

    def _closing(self, received: Close | None) -> None:
        if self.close_code is None:
            self.close_code = received.code if received is not None else 1005

    def _flush(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return  # the TCP connection is closing or gone: nothing more can be written
        for chunk in self.proto.data_to_send():
            if chunk:
                transport.write(chunk)
            else:  # websockets says: the TCP connection ends here
                self._close_transport()
                return

    def _close_transport(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    # -- keepalive and timers ---------------------------------------------------------------

    def _start_keepalive(self) -> None:
        if self.ping_interval:
            self._schedule_ping()

    def _schedule_ping(self) -> None:
        if self.ping_interval:
            self._start_timer("ping", self.ping_interval, self._ping)

    def _ping(self) -> None:
        self._timers.pop("ping", None)
        if self.proto.state is not State.OPEN:
            return
        self._ping_payload = secrets.token_bytes(4)
        self.proto.send_ping(self._ping_payload)
        self._flush()
        if self.ping_timeout:
            self._start_timer("pong", self.ping_timeout, self._ping_timed_out)
        else:
            self._schedule_ping()

    def _ping_timed_out(self) -> None:
        self._timers.pop("pong", None)
        if self.proto.state is State.OPEN:
            self.close_code = 1011
            self.proto.fail(1011, "keepalive ping timeout")
            self._flush()
            self._close_transport()

    def _release(self) -> None:
        self._timers.pop("hold", None)
        self._held_until = 0.0
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.resume_reading()

    def _start_timer(self, name: str, seconds: float, callback: Callable[[], None]) -> None:
        self._stop_timer(name)
        self._timers[name] = asyncio.get_running_loop().call_later(seconds, callback)

    def _stop_timer(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()


def _settle(waiter: asyncio.Future[None] | None) -> None:
    """Wake whoever waits on ``waiter`` (if anyone does)."""
    if waiter is not None and not waiter.done():
        waiter.set_result(None)

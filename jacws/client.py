"""Simulated clients: real websocket clients on one event-loop thread, driven by plain calls.

Every :class:`Client` shares one background loop thread, so a notebook cell can open
several clients, send every event type and wait for what arrives without touching the
kernel's own loop. A client records every message it receives (with its receive time)
and every event it sends. A server that stops shows up as ``state == CLOSED`` with the
close code, never as an exception in the cell.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any
from urllib.parse import quote

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from .errors import ClientClosed, JacWSError
from .extcalls import ExtensionCalls
from .inbox import Inbox, Message, Sent, WalkerCall
from .normalize import token_email
from .rest import RestCalls, login, register
from .trace import TRACE_HEADER, ConnectionTrace, close_trace, may_trace, open_trace

__all__ = [
    "Client",
    "ClientClosed",
    "ClientState",
    "Message",
    "Sent",
    "WalkerCall",
    "login",
    "register",
]

log = logging.getLogger("jacws.client")


class ClientState(enum.Enum):
    """A client is CONNECTING, then OPEN, then CLOSED (with a close code)."""

    CONNECTING = "connecting"
    OPEN = "open"
    CLOSED = "closed"


class _LoopThread:
    """The one event-loop thread every simulated client runs on."""

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def loop(cls) -> asyncio.AbstractEventLoop:
        with cls._lock:
            if cls._loop is None or cls._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="jacws-clients", daemon=True)
                thread.start()
                cls._loop = loop
            return cls._loop


class Client(ExtensionCalls, RestCalls):
    """A simulated websocket client; every method is a plain, quick, synchronous call.

    Args:
        ws_url: ``ws://HOST:PORT/websocket``.
        token: a JWT to connect with (the ``Authorization`` header), or None for anonymous.
        channel_id: the channel to join, or None for a random one.
        name: a label for views (defaults to the user's email or "guest").
        base_url: ``http://HOST:PORT`` for REST calls (derived from ``ws_url`` if omitted).
        connect: connect now (and wait for the connection event).
    """

    _names = itertools.count(1)

    def __init__(
        self,
        ws_url: str,
        token: str | None = None,
        channel_id: str | None = None,
        name: str | None = None,
        base_url: str | None = None,
        email: str | None = None,
        connect: bool = True,
        timeout: float = 10,
    ) -> None:
        self.ws_url = ws_url
        self.base_url = base_url or "http" + ws_url[2:].rsplit("/websocket", 1)[0]
        self.token = token
        self.email = email
        self.initial_email = email or token_email(token)
        """Who the client first connected as (``email`` changes with :meth:`change_user`)."""
        self.requested_channel = channel_id
        self.name = name or email or f"guest-{next(self._names)}"
        self.timeout = timeout
        self.state = ClientState.CLOSED
        self.close_code: int | None = None
        self.close_reason: str = ""
        self.info: dict[str, str] = {}
        self._box = Inbox(self.name)
        self._calls: dict[Any, WalkerCall] = {}
        self._call_ids = itertools.count(1)
        self._answered: deque[WalkerCall] = deque(maxlen=1000)
        self._callbacks: list[Callable[[Client, Message], None]] = []
        self._state_callbacks: list[Callable[[Client], None]] = []
        self._send_callbacks: list[Callable[[Client, Sent], None]] = []
        self._send_lock = threading.RLock()  # one send at a time: numbered, recorded, then queued
        self._frames_sent = 0
        self._trace: ConnectionTrace | None = None
        self._loop = _LoopThread.loop()
        self._ws: ClientConnection | None = None
        self._outgoing: asyncio.Queue[str] | None = None
        self._task: Future[None] | None = None
        if connect:
            self.connect()

    # -- identity --------------------------------------------------------------------

    @property
    def client_id(self) -> str | None:
        """This connection's client id (from the latest connection event)."""
        return self.info.get("client_id")

    @property
    def root_id(self) -> str | None:
        """The root id the server says this connection runs as."""
        return self.info.get("root_id")

    @property
    def channel_id(self) -> str | None:
        """The channel this connection is on."""
        return self.info.get("channel_id")

    @property
    def anonymous(self) -> bool:
        """Whether the connection runs as the public (anonymous) root."""
        return self.root_id == "n::000000000000000000000001"

    # -- lifecycle -------------------------------------------------------------------

    def connect(self) -> Client:
        """Connect and wait for the connection event.

        Raises:
            JacWSError: the server could not be reached or sent no connection event in time.
        """
        if self.state is not ClientState.CLOSED:
            raise JacWSError(f"client {self.name} is {self.state.value}; expected closed")
        self._set_state(ClientState.CONNECTING)
        self.close_code, self.close_reason = None, ""
        opened: Future[None] = Future()
        self._task = asyncio.run_coroutine_threadsafe(self._run(opened), self._loop)
        try:
            opened.result(self.timeout)
        except Exception as error:
            self._task.cancel()
            self._set_state(ClientState.CLOSED)
            reason = "no connection event in time" if isinstance(error, (TimeoutError, FutureTimeout)) else error
            raise JacWSError(f"client {self.name} could not connect to {self.ws_url}: {reason}") from None
        return self

    def close(self, timeout: float | None = None) -> None:
        """Close the connection (code 1000) and wait until it is closed."""
        ws = self._ws
        if ws is not None and self.state is not ClientState.CLOSED:
            asyncio.run_coroutine_threadsafe(ws.close(), self._loop).result(timeout or self.timeout)
        if self._task is not None:
            self._task.result(timeout or self.timeout)

    def reconnect(self) -> Client:
        """Close (if open) and connect again with the same token and channel (a new client id)."""
        self.close()
        return self.connect()

    async def _run(self, opened: Future[None]) -> None:
        joiner = "&" if "?" in self.ws_url else "?"  # (a ws_url may carry options, e.g. "?offsets=1")
        url = self.ws_url + (f"{joiner}channel_id={quote(self.requested_channel)}" if self.requested_channel else "")
        # A server of this process then says why it sent each frame (jacws.trace). Only loopback
        # servers can be ours: a key is never handed to a server elsewhere.
        trace = open_trace() if may_trace(self.ws_url) else None
        headers = {TRACE_HEADER: trace.key} if trace is not None else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        with self._send_lock:
            self._trace, self._frames_sent = trace, 0
        self._outgoing = asyncio.Queue()
        try:
            async with ws_connect(url, additional_headers=headers, open_timeout=self.timeout, max_size=None) as ws:
                self._ws = ws
                writer = asyncio.create_task(self._write(ws, self._outgoing))
                try:
                    await self._read(ws, opened, trace)
                finally:
                    writer.cancel()
        except Exception as error:
            if not opened.done():
                opened.set_exception(error)
            else:
                log.debug("client %s stopped", self.name, exc_info=True)
        finally:
            if trace is not None:
                close_trace(trace)
            ws_closed = self._ws
            self._ws = None
            if ws_closed is not None:
                self.close_code = ws_closed.close_code
                self.close_reason = ws_closed.close_reason or ""
            for call in self._calls.values():
                if not call.future.done():
                    call.future.set_exception(ClientClosed(f"client {self.name} closed before walker answered"))
            self._calls.clear()
            self._set_state(ClientState.CLOSED)

    async def _write(self, ws: ClientConnection, outgoing: asyncio.Queue[str]) -> None:
        while True:
            text = await outgoing.get()
            await ws.send(text)

    async def _read(self, ws: ClientConnection, opened: Future[None], trace: ConnectionTrace | None) -> None:
        # A message joins the inbox and meets the callbacks registered at that moment in one
        # step (see subscribe); waiters wake only after the callbacks ran, so once wait_for()
        # or result() returns, every view has been told of the message.
        try:
            async for frame in ws:
                data = orjson.loads(frame)
                cause = trace.next_cause() if trace is not None else None
                with self._box.changed:
                    message = self._box.receive(data, time.time(), cause)
                    callbacks = list(self._callbacks)
                # A peer can send anything through a channel; a traced server says what is a real answer.
                genuine = cause is None or cause.route == message.kind
                connection = message.kind == "connection" and genuine and isinstance(data.get("data"), dict)
                if connection:
                    self.info = dict(data["data"])
                request_id = data.get("id") if message.kind in ("response", "error") and genuine else None
                call = self._calls.pop(request_id, None) if isinstance(request_id, str) else None
                if call is not None:
                    call.answered_at = message.received_at
                    self._answered.append(call)
                for callback in callbacks:
                    try:
                        callback(self, message)
                    except Exception:
                        log.exception("message callback of %s failed", self.name)
                self._box.mark_delivered(message)
                if connection and not opened.done():
                    self._set_state(ClientState.OPEN)
                    opened.set_result(None)
                if call is not None:
                    call.future.set_result(data)
        except ConnectionClosed:
            pass

    def _set_state(self, state: ClientState) -> None:
        with self._box.changed:
            self.state = state
        for callback in list(self._state_callbacks):
            try:
                callback(self)
            except Exception:
                log.exception("state callback of %s failed", self.name)
        with self._box.changed:  # after the callbacks: once wait_closed() returns, every view has been told
            self._box.changed.notify_all()

    # -- sending ---------------------------------------------------------------------

    def send(self, event: dict[str, Any]) -> None:
        """Send one raw event (a dict) as a text frame, in order with every other send.

        Raises:
            ClientClosed: the client is not connected.
        """
        text = orjson.dumps(event).decode()
        with self._send_lock:  # numbered and recorded before the frame can leave, so no answer precedes it
            outgoing = self._outgoing
            if self.state is not ClientState.OPEN or outgoing is None:
                raise ClientClosed(f"client {self.name} is {self.state.value}: reconnect() first")
            self._frames_sent += 1
            trace = self._trace
            sent = Sent(event, time.time(), self._frames_sent, trace.key if trace else None)
            with self._box.changed:
                self._box.sent.append(sent)
            for callback in list(self._send_callbacks):
                try:
                    callback(self, sent)
                except Exception:
                    log.exception("send callback of %s failed", self.name)
            self._loop.call_soon_threadsafe(outgoing.put_nowait, text)

    def walker(self, walker: str, response: bool = True, node: str | None = None, **context: Any) -> WalkerCall:
        """Run a walker over the socket with ``context`` as its fields.

        With ``response=True`` (the default here) the event carries an ``id`` and the
        returned :class:`WalkerCall` completes with the answer; ``.result()`` waits for it.
        """
        request_id = f"{self.name}-{next(self._call_ids)}-{secrets.token_hex(4)}" if response else None
        event: dict[str, Any] = {"type": "walker", "walker": walker, "context": context, "response": response}
        if node is not None:
            event["node"] = node
        if request_id is not None:
            event["id"] = request_id
        call = WalkerCall(walker, request_id, time.time())
        if request_id is None:
            call.future.set_result(None)
        else:
            self._calls[request_id] = call
        try:
            self.send(event)
        except ClientClosed:
            self._calls.pop(request_id, None)
            raise
        return call

    def user(self, root_ids: Iterable[str], data: Any) -> None:
        """Send ``data`` to every connection of these users."""
        self.send({"type": "user", "root_ids": list(root_ids), "data": data})

    def channel(self, channel_ids: Iterable[str], data: Any) -> None:
        """Send ``data`` to every connection on these channels."""
        self.send({"type": "channel", "channel_ids": list(channel_ids), "data": data})

    def client(self, client_ids: Iterable[str], data: Any) -> None:
        """Send ``data`` to these connections."""
        self.send({"type": "client", "client_ids": list(client_ids), "data": data})

    def connection(self) -> dict[str, str]:
        """Ask for the connection event again and return its data."""
        mark = len(self._box.received)
        self.send({"type": "connection"})
        return dict(self.wait_for(lambda m: m.get("type") == "connection", since=mark)["data"])

    def change_user(self, token: str | None = None, email: str | None = None) -> dict[str, str]:
        """Become the user of ``token`` (or the public user without one); return the new connection data.

        The token is remembered, so :meth:`reconnect` connects as the same user.
        """
        event: dict[str, Any] = {"type": "change_user"}
        if token:
            event["token"] = f"Bearer {token}"
        mark = len(self._box.received)
        self.send(event)
        info = dict(self.wait_for(lambda m: m.get("type") == "connection", since=mark)["data"])
        self.token = token if info.get("root_id") != "n::000000000000000000000001" else None
        self.email = email if self.token else None
        return info

    # -- receiving -------------------------------------------------------------------

    @property
    def inbox(self) -> list[Message]:
        """Every message received, in order, with its receive time."""
        return self._box.delivered()

    @property
    def rtts(self) -> list[float]:
        """Round-trip times (seconds) of the latest answered walker calls, oldest first."""
        return [call.rtt for call in list(self._answered) if call.rtt is not None]

    @property
    def sent(self) -> list[Sent]:
        """Every event sent, in order."""
        with self._box.changed:
            return list(self._box.sent)

    def messages(self, kind: str | None = None, type: str | None = None) -> list[Any]:
        """The data of received messages, optionally only one kind or ``type``."""
        return [m.data for m in self.inbox if (kind is None or m.kind == kind) and (type is None or m.type == type)]

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 5, since: int = 0) -> Any:
        """Wait for the first message matching ``predicate`` that no earlier ``wait_for`` returned.

        Messages that arrived before the call count, so there is no race with a send just
        made; each message is returned at most once. ``since`` skips messages whose inbox
        index is lower (``len(client.inbox)`` taken before a send). Returns the message's data.

        Raises:
            TimeoutError: nothing matched within ``timeout`` seconds.
        """
        return self._box.wait_for(predicate, timeout, since)

    def wait_inbox(self, count: int, timeout: float = 5) -> list[Message]:
        """Wait until at least ``count`` messages have arrived; return the inbox.

        Raises:
            TimeoutError: fewer arrived within ``timeout`` seconds.
        """
        return self._box.wait_count(count, timeout)

    def subscribe(
        self,
        on_message: Callable[[Client, Message], None] | None = None,
        on_send: Callable[[Client, Sent], None] | None = None,
        on_state: Callable[[Client], None] | None = None,
    ) -> tuple[list[Message], list[Sent]]:
        """Register callbacks and return what was received and sent before, in one step.

        Every message and send is in exactly one of the two: the returned lists, or a later
        callback. What a view needs to show a client from any moment on, with no gap and no
        repeat.
        """
        with self._send_lock, self._box.changed:
            if on_message is not None:
                self._callbacks.append(on_message)
            if on_send is not None:
                self._send_callbacks.append(on_send)
            if on_state is not None:
                self._state_callbacks.append(on_state)
            return list(self._box.received), list(self._box.sent)

    def on_message(self, callback: Callable[[Client, Message], None]) -> None:
        """Call ``callback(client, message)`` for every message (on the clients' loop thread)."""
        self.subscribe(on_message=callback)

    def on_send(self, callback: Callable[[Client, Sent], None]) -> None:
        """Call ``callback(client, sent)`` for every event this client sends (on the sending thread).

        It runs before the frame is queued, so it sees the send before any answer to it.
        """
        self.subscribe(on_send=callback)

    def on_state(self, callback: Callable[[Client], None]) -> None:
        """Call ``callback(client)`` whenever the connection state changes."""
        self.subscribe(on_state=callback)

    def wait_closed(self, timeout: float = 10) -> int | None:
        """Wait until the connection is closed; return the close code."""
        with self._box.changed:
            if not self._box.changed.wait_for(lambda: self.state is ClientState.CLOSED, timeout):
                raise TimeoutError(f"{self.name} is still {self.state.value} after {timeout} s")
        return self.close_code

    def __repr__(self) -> str:
        code = f" code={self.close_code}" if self.state is ClientState.CLOSED and self.close_code else ""
        return f"<jacws.Client {self.name} {self.state.value}{code} client_id={self.client_id}>"

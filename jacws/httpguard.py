"""The first protocol of every TCP connection: a slot, bounded request headers, then uvicorn's HTTP protocol.

uvicorn reads whatever headers a client sends, for as long as it takes, and counts no connection
until it is a websocket. :func:`guarded_http` wraps the HTTP protocol class uvicorn would use
(handed to uvicorn as its ``http`` protocol class, a documented option):

- every connection takes a slot of :class:`Slots` when it opens and gives it back when it closes,
  HTTP and websocket alike; with none free, it is answered ``503`` and closed at once; one peer
  address may hold only so many (``429``), unless it is a trusted proxy;
- a request's headers must arrive within ``header_timeout`` seconds (``408`` and closed) and stay
  under ``max_header_bytes`` (``431`` and closed).

The wrapper watches requests with httptools' parser (only their starts and header ends), hands
every byte on unchanged, and stands between uvicorn's protocols and the transport so that it sees
the connection close even after the switch to a websocket. Nothing of uvicorn's is touched.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, cast

import httptools

from .addresses import Networks

__all__ = ["Slots", "guarded_http"]


MAX_REFUSING = 64
"""Connections turned away at once, each waiting for its request to be answered 503; more are closed unanswered."""

REFUSAL_TIMEOUT = 2.0
"""Seconds a turned-away connection has to send its request headers before it is closed."""


class Slots:
    """How many TCP connections a server holds open, from each peer address too, and how many it may.

    Peers in ``trusted`` (proxies) are not counted per address: their requests name their clients,
    whose sockets the websocket route counts.
    """

    def __init__(self, limit: int, per_address: int | None = None, trusted: Networks | None = None) -> None:
        self.limit = limit
        self.per_address = per_address if per_address is not None else limit
        self.trusted = trusted or Networks(())
        self.open = 0
        self.refusing = 0  # connections without a slot, waiting to be answered 503 or 429
        self.by_address: dict[str, int] = {}

    def take(self, address: str | None = None) -> bytes | None:
        """Take a slot for a new connection from ``address``; None when taken, else the answer to refuse it
        with (``503`` when the server is full, ``429`` when the address is)."""
        if self.open >= self.limit:
            return BUSY
        if address is not None and address not in self.trusted:
            here = self.by_address.get(address, 0)
            if here >= self.per_address:
                return CROWDED
            self.by_address[address] = here + 1
        self.open += 1
        return None

    def give(self, address: str | None = None) -> None:
        """Give back the slot of a connection from ``address`` that closed."""
        self.open -= 1
        if address is not None and address not in self.trusted:
            left = self.by_address[address] - 1
            if left:
                self.by_address[address] = left
            else:
                del self.by_address[address]


def _response(status: str, code: str, error: str) -> bytes:
    body = f'{{"error": "{error}", "code": "{code}"}}'.encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


BUSY = _response("503 Service Unavailable", "unavailable", "the server is at its connection limit")
SLOW = _response("408 Request Timeout", "request_timeout", "the request headers took too long")
LARGE = _response("431 Request Header Fields Too Large", "headers_too_large", "the request headers are too large")
CROWDED = _response(
    "429 Too Many Requests", "too_many_connections", "too many connections from your address; close some first"
)


class _Relay(asyncio.Transport):
    """The transport uvicorn's protocols see: the real one, with protocol switches going through the guard."""

    def __init__(self, transport: asyncio.Transport, guard: _Guard) -> None:
        super().__init__()
        self._transport = transport
        self._guard = guard

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._transport.write(data)

    def writelines(self, list_of_data: Any) -> None:
        self._transport.writelines(list_of_data)

    def close(self) -> None:
        self._transport.close()

    def abort(self) -> None:
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        self._transport.write_eof()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._guard.switched(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._guard.inner


class _Guard(asyncio.Protocol):
    """One connection: its slot, the header clock and size of its requests, and the protocol it feeds."""

    inner_class: ClassVar[type[asyncio.Protocol]]
    slots: ClassVar[Slots]
    max_header_bytes: ClassVar[int]
    header_timeout: ClassVar[float]

    def __init__(self, **kwargs: Any) -> None:
        self.inner: asyncio.BaseProtocol = self.inner_class(**kwargs)
        self._transport: asyncio.Transport | None = None
        self._parser: Any = httptools.HttpRequestParser(self)
        self._in_headers = True  # a connection starts with a request's headers
        self._header_bytes = 0
        self._clock: asyncio.TimerHandle | None = None
        self._holds_slot = False
        self._refusing: bytes | None = None  # the answer for a connection without a slot
        self._address: str | None = None
        self._ended = False

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # (uvloop's transports are not its subclasses)
        peer = self._transport.get_extra_info("peername")
        self._address = str(peer[0]) if isinstance(peer, tuple) and peer else None
        refusal = self.slots.take(self._address)
        if refusal is not None:
            # Answered once its request is in (a client that is still sending would miss an early answer),
            # within a short time, and only for a few at once: past that, closed unanswered.
            if self.slots.refusing >= MAX_REFUSING:
                self._ended = True
                self._transport.abort()
                return
            self.slots.refusing += 1
            self._refusing = refusal
            self._clock = asyncio.get_running_loop().call_later(REFUSAL_TIMEOUT, self._end, refusal)
            return
        self._holds_slot = True
        self._start_clock()
        self.inner.connection_made(_Relay(self._transport, self))

    def data_received(self, data: bytes) -> None:
        if self._ended:
            return
        if self._refusing is not None:
            self._watch_refused(data, self._refusing)
            return
        parser = self._parser
        upgrade_at = None
        if parser is not None:
            try:
                parser.feed_data(data)
            except httptools.HttpParserUpgrade as upgrade:
                self._stop_watching()  # a websocket from here on
                upgrade_at = upgrade.args[0] if upgrade.args else None
            except httptools.HttpParserError:
                self._stop_watching()  # uvicorn's own parser answers 400
            if self._in_headers and self._parser is not None:
                self._header_bytes += len(data)
                if self._header_bytes > self.max_header_bytes:
                    self._end(LARGE)
                    return
        inner = self.inner
        inner.data_received(data)  # type: ignore[attr-defined]
        if upgrade_at is not None and self.inner is not inner and upgrade_at < len(data):
            # Frames sent in the same packet as the handshake: uvicorn's HTTP protocol hands the
            # websocket protocol the request only, so they are handed on here.
            self.inner.data_received(data[upgrade_at:])  # type: ignore[attr-defined]

    def eof_received(self) -> bool | None:
        if self._ended:
            return None
        return self.inner.eof_received()  # type: ignore[attr-defined, no-any-return]

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_clock()
        if self._refusing is not None:
            self._refusing = None
            self.slots.refusing -= 1
        if self._holds_slot:
            self._holds_slot = False
            self.slots.give(self._address)
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    # -- httptools' callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_headers = True
        self._header_bytes = 0
        if self._clock is None:
            self._start_clock()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._cancel_clock()
        if self._refusing is not None:
            self._end(self._refusing)

    # -- the guard's own --------------------------------------------------------------------

    def switched(self, protocol: asyncio.BaseProtocol) -> None:
        """uvicorn switched the connection to ``protocol`` (a websocket): feed that from now on."""
        self.inner = protocol
        self._stop_watching()

    def _watch_refused(self, data: bytes, refusal: bytes) -> None:
        """A connection without a slot: read its request to its headers' end, then answer ``refusal``."""
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # a websocket handshake: its headers are in
            self._end(refusal)
        except httptools.HttpParserError:
            self._end(refusal)
        self._header_bytes += len(data)
        if self._header_bytes > self.max_header_bytes and not self._ended:
            self._end(LARGE)

    def _stop_watching(self) -> None:
        self._parser = None
        self._in_headers = False
        self._cancel_clock()

    def _start_clock(self) -> None:
        self._clock = asyncio.get_running_loop().call_later(self.header_timeout, self._too_slow)

    def _cancel_clock(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            self._clock = None

    def _too_slow(self) -> None:
        self._clock = None
        if self._in_headers and not self._ended:
            self._end(SLOW)

    def _end(self, response: bytes) -> None:
        """Answer with ``response`` and close: the rest of what the client sends is not read."""
        if self._ended:
            return
        self._ended = True
        self._cancel_clock()
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(response)
            transport.close()


def guarded_http(
    inner: type[asyncio.Protocol], slots: Slots, max_header_bytes: int, header_timeout: float
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class ``inner``, behind a guard with these slots and header limits."""
    return type(
        "GuardedHTTP",
        (_Guard,),
        {
            "inner_class": inner,
            "slots": slots,
            "max_header_bytes": max_header_bytes,
            "header_timeout": header_timeout,
        },
    )

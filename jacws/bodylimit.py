"""A bound on HTTP request bodies: past it, ``413`` before the body is held in memory.

An ASGI middleware. A request whose ``Content-Length`` is over the limit is answered at once,
without reading a byte of its body; any other body (chunked, or announced shorter than it is) is
read up to the limit and answered ``413`` as soon as it goes past, so no request ever holds more
than ``limit`` bytes. The app then reads the body it was given, whole. Websockets pass untouched
(their frames have a limit of their own). File uploads (``multipart/form-data`` bodies for a walker that
takes files) have a limit of their own, ``upload_limit``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

__all__ = ["BodyLimit"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Answer ``413 body_too_large`` to HTTP requests whose body is over ``limit`` bytes (``upload_limit`` for
    a walker's file upload)."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        upload_limit: int | None = None,
        takes_files: Callable[[str], bool] = lambda path: False,
    ) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = limit if upload_limit is None else upload_limit
        self.takes_files = takes_files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = _is_form(scope) and self.takes_files(scope.get("path", ""))
        limit = self.upload_limit if upload else self.limit
        announced = _content_length(scope)
        if announced is not None and announced > limit:
            await self._refuse(send, limit, upload)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(send, limit, upload)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        given = False

        async def replay() -> Message:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, limit: int, upload: bool) -> None:
        what = "upload too large (max_upload_bytes)" if upload else "request body too large"
        payload = orjson.dumps({"error": f"{what}: the limit is {limit} bytes", "code": "body_too_large"})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"connection", b"close"),  # the rest of the body is not read: the connection cannot be reused
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _is_form(scope: Scope) -> bool:
    """Whether the body is ``multipart/form-data``."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return bytes(value).lower().startswith(b"multipart/form-data")
    return False

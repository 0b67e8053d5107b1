"""ASGI's side of a websocket handshake: the scope of a websockets ``Request``, a denial response from ASGI
messages, the access log line. No I/O."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

__all__ = ["SOCKET", "access_line", "denial", "websocket_scope"]

SOCKET = "jacws.socket"
"""The scope extension under which the application finds the connection (a :class:`~jacws.wsprotocol.JacWSProtocol`)."""


def websocket_scope(
    request: Request, transport: asyncio.BaseTransport, root_path: str, app_state: dict[str, Any], socket: object
) -> dict[str, Any]:
    """The ASGI scope of a websocket handshake ``request`` that arrived on ``transport``; ``socket`` goes in the
    :data:`SOCKET` extension."""
    raw_path, _, query = request.path.partition("?")
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "wss" if transport.get_extra_info("sslcontext") else "ws",
        "server": _address(transport.get_extra_info("sockname")),
        "client": _address(transport.get_extra_info("peername")),
        "root_path": root_path,
        "path": root_path + unquote(raw_path),
        "raw_path": (root_path + raw_path).encode("ascii"),
        "query_string": query.encode("ascii"),
        "headers": [(k.lower().encode("ascii"), v.encode("latin-1")) for k, v in request.headers.raw_items()],
        "subprotocols": [
            token.strip() for header in request.headers.get_all("Sec-WebSocket-Protocol") for token in header.split(",")
        ],
        "state": app_state.copy(),
        "extensions": {"websocket.http.response": {}, SOCKET: socket},
    }


def denial(response: Response, headers: list[tuple[bytes, bytes]], body: bytes) -> Response:
    """``response`` (a rejection) with the status's ASGI ``headers`` and ``body``, closing the connection."""
    response.headers = Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in headers)
    response.body = body
    if "Content-Length" not in response.headers:
        response.headers["Content-Length"] = str(len(response.body))
    response.headers["Connection"] = "close"
    return response


def access_line(scope: dict[str, Any]) -> tuple[str, str]:
    """The client (``host:port``) and the path with its query, as uvicorn's access log shows them."""
    client = scope["client"]
    path = scope["path"] + (f"?{scope['query_string'].decode('ascii')}" if scope["query_string"] else "")
    return (f"{client[0]}:{client[1]}" if client else "-"), path


def _address(value: Any) -> tuple[str, int] | None:
    """``(host, port)`` of a socket address from the transport, or None (a Unix socket)."""
    if isinstance(value, tuple) and len(value) >= 2:
        return str(value[0]), int(value[1])
    return None

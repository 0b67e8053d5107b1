"""The ASGI side of a websocket handshake: the scope uvicorn's own protocol would give, denial responses."""

from __future__ import annotations

from typing import Any

from websockets.datastructures import Headers
from websockets.http11 import Request
from websockets.server import ServerProtocol

from jacws.wsasgi import SOCKET, access_line, denial, websocket_scope


class _Transport:
    """What a TCP transport tells about itself (asyncio's ``get_extra_info``)."""

    def __init__(self, **extra: Any) -> None:
        self.extra = extra

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)


def test_the_scope_carries_path_query_headers_subprotocols_and_the_socket() -> None:
    headers = Headers([("Host", "127.0.0.1"), ("Authorization", "Bearer t"), ("Sec-WebSocket-Protocol", "a, b")])
    request = Request("/websocket%20x?channel_id=room", headers)
    transport = _Transport(sockname=("127.0.0.1", 8000), peername=("127.0.0.1", 51000))
    socket = object()
    scope = websocket_scope(request, transport, "/jac", {"k": 1}, socket)  # type: ignore[arg-type]
    assert scope["path"] == "/jac/websocket x" and scope["raw_path"] == b"/jac/websocket%20x"
    assert scope["query_string"] == b"channel_id=room" and scope["scheme"] == "ws"
    assert (b"authorization", b"Bearer t") in scope["headers"] and scope["subprotocols"] == ["a", "b"]
    assert scope["client"] == ("127.0.0.1", 51000) and scope["server"] == ("127.0.0.1", 8000)
    assert scope["extensions"][SOCKET] is socket and "websocket.http.response" in scope["extensions"]
    assert access_line(scope) == ("127.0.0.1:51000", "/jac/websocket x?channel_id=room")


def test_a_unix_socket_has_no_client_address() -> None:
    scope = websocket_scope(Request("/websocket", Headers()), _Transport(peername=""), "", {}, None)  # type: ignore[arg-type]
    assert scope["client"] is None and access_line(scope) == ("-", "/websocket")


def test_a_denial_keeps_the_apps_status_headers_and_body_and_closes() -> None:
    response = denial(ServerProtocol().reject(429, ""), [(b"content-type", b"application/json")], b'{"code":"x"}')
    assert response.status_code == 429 and response.body == b'{"code":"x"}'
    assert response.headers["Content-Length"] == "12" and response.headers["Connection"] == "close"
    assert response.headers["content-type"] == "application/json"

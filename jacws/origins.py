"""Which pages and names may reach the server: the ``Host``, ``Origin`` and ``Content-Type`` checks.

:class:`RequestGuard` is an ASGI middleware in front of every route, the websocket's included:

- ``Host`` must name this server: on a loopback interface (a notebook's server, ``jacws serve`` by default)
  only loopback names are accepted, as Jupyter's own server does, so a page that rebinds its DNS name
  to 127.0.0.1 is refused (``403 host_not_allowed``); ``allowed_hosts`` adds names;
- a browser's ``Origin`` must be this server's own or one of ``allowed_origins`` (``403 origin_not_allowed``),
  so no other web page can open a socket or fire a REST call with the user's browser; clients that are
  not browsers send no ``Origin`` and are not concerned;
- a request body must be ``application/json`` (``415 unsupported_media_type``): the forms and
  ``text/plain`` posts any page can send without asking are refused. The one exception is
  ``multipart/form-data`` to a walker that takes files (``takes_files``), how files reach it; a form another
  page submits carries that page's ``Origin`` and is refused by the check above, and walkers take tokens
  from a header no form sets.

Cross-origin reads for ``allowed_origins`` (the CORS headers and preflights) are Starlette's
``CORSMiddleware``, set up by :func:`jacws.app.create_app`.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import orjson

__all__ = ["RequestGuard", "host_rule"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _is_loopback(name: str) -> bool:
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_rule(listen_host: str, allowed_hosts: Iterable[str] | None, environ: Any = None) -> frozenset[str] | None:
    """The names a request's ``Host`` may give besides loopback ones, or None for any name.

    ``allowed_hosts`` None means: only loopback names when listening on a loopback interface, any name
    otherwise (a public server has names of its own; list them to check them). Under JupyterHub
    (``JUPYTERHUB_SERVICE_PREFIX`` set) a notebook's server is reached by browsers only through the
    Jupyter server's proxy, which checks hosts itself and forwards the hub's name: any name then.
    """
    if allowed_hosts is not None:
        names = frozenset(name.lower() for name in allowed_hosts)
        return None if "*" in names else names
    env = os.environ if environ is None else environ
    if _is_loopback(listen_host.strip("[]")) and not env.get("JUPYTERHUB_SERVICE_PREFIX"):
        return frozenset()
    return None


def _host_name(host: str) -> str:
    """``example.com`` of ``Example.com:8000``, ``::1`` of ``[::1]:8000``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _answer(status: int, code: str, error: str) -> tuple[int, bytes]:
    return status, orjson.dumps({"error": error, "code": code})


class RequestGuard:
    """Refuse requests for foreign hosts, from foreign pages, or with bodies that are not JSON.

    Args:
        app: the application behind the guard.
        hosts: names accepted besides loopback ones (None: any name); see :func:`host_rule`.
        origins: origins accepted besides the server's own (``"https://app.example.com"``; ``"*"`` for any).
        takes_files: whether a request path is that of a walker with file fields (``multipart/form-data``).
    """

    def __init__(
        self,
        app: ASGIApp,
        hosts: frozenset[str] | None,
        origins: Iterable[str] = (),
        takes_files: Callable[[str], bool] = lambda path: False,
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.origins = frozenset(origin.rstrip("/").lower() for origin in origins)
        self.takes_files = takes_files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, body = refusal
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if kind == "http":
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        elif "websocket.http.response" in (scope.get("extensions") or {}):
            await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:  # pragma: no cover - servers without the denial-response extension
            await send({"type": "websocket.close", "code": 1008})

    def refusal(self, scope: Scope) -> tuple[int, bytes] | None:
        """The status and body to refuse ``scope`` with, or None to let it through."""
        host = origin = content_type = None
        has_body = False
        for name, value in scope.get("headers", ()):
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"content-length":
                has_body = value.strip() not in (b"", b"0")
            elif name == b"transfer-encoding":
                has_body = True
        name = _host_name(host or "")
        if self.hosts is not None and not _is_loopback(name) and name not in self.hosts:
            return _answer(403, "host_not_allowed", f"this server does not answer to the name {name!r}")
        if origin is not None and not self._origin_allowed(origin, host or ""):
            return _answer(403, "origin_not_allowed", f"pages from {origin} may not use this server")
        if scope["type"] == "http" and scope.get("method") in BODY_METHODS and (has_body or content_type):
            media = (content_type or "").split(";", 1)[0].strip().lower()
            files = media == "multipart/form-data" and self.takes_files(str(scope.get("path", "")))
            if media != "application/json" and not files:
                return _answer(415, "unsupported_media_type", "send the request body as application/json")
        return None

    def _origin_allowed(self, origin: str, host: str) -> bool:
        origin = origin.strip().rstrip("/").lower()
        if "*" in self.origins or origin in self.origins:
            return True
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc == host.strip().lower()

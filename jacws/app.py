"""The FastAPI application: ``/websocket``, ``/user/*``, ``/walker/*``, ``/walkers``, ``/healthz``.

This is the only module that imports FastAPI or Starlette. :class:`Runtime` holds the
services one server needs (store, tokens, hub, walker threads); :func:`create_app`
builds the application around one runtime.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import logging
import re
import sys
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import parse_qs

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from .addresses import client_address
from .auth import (
    MAX_PASSWORD,
    Claims,
    PasswordHasher,
    RevocationCache,
    TokenIssuer,
    bearer_token,
    email_problem,
    password_problem,
)
from .bodylimit import BodyLimit
from .connection import Connection, Transport
from .errors import (
    AuthRequired,
    ClientError,
    InvalidCredentials,
    InvalidEvent,
    InvalidToken,
    MethodNotAllowed,
    RateLimited,
    ServerBusy,
    UnknownWalker,
    UserExists,
)
from .graph import GraphSession
from .hub import Hub
from .notify import HubNotifier
from .origins import RequestGuard, host_rule
from .protocol import PUBLIC_ROOT_ID, encode, normalize_node_id, walker_response
from .ratelimit import Concurrency, budget_key
from .relays import open_relay
from .settings import Settings, load_or_create_secret
from .stores import Store, open_store
from .throttle import LoginThrottle
from .trace import TRACE_HEADER, Cause, claim_trace
from .walkers import Walker, WalkerRegistry, describe_walker, registry, run_walker
from .wsprotocol import SOCKET

__all__ = ["JacWSApp", "Runtime", "create_app"]

log = logging.getLogger("jacws")
T = TypeVar("T")


HASH_THREADS = 2
"""Threads that hash and check passwords (argon2 is CPU-bound: about one per core)."""

MAX_HASHING = 16
"""Password hashes and checks running or waiting at once; more are answered 503 at once."""


class Runtime:
    """The services of one server: store, password hasher, token issuer, hub, walker threads.

    Args:
        settings: the server's settings.
        walkers: the walker registry to serve (the process-wide one by default).
    """

    def __init__(self, settings: Settings, walkers: WalkerRegistry | None = None) -> None:
        self.settings = settings
        self.registry = walkers or registry
        self.store: Store = open_store(settings.db, max_connections=settings.walker_threads + 4)
        secret = settings.secret
        if not secret:
            secret, origin = load_or_create_secret(settings.db)
            log.info("token secret %s", origin)
        self.revocations = RevocationCache(self.store, settings.token_lifetime)
        self.tokens = TokenIssuer(secret, self.revocations, settings.token_lifetime)
        # The password simulated clients register users with: random per server (its secret's), never shared.
        digest = hmac.new(secret.encode(), b"jacws playground users", hashlib.sha256).digest()
        self.playground_password = base64.urlsafe_b64encode(digest[:18]).decode()
        self.hasher = PasswordHasher()
        self.executor = ThreadPoolExecutor(settings.walker_threads, thread_name_prefix="jacws-walker")
        # Store calls for users and tokens get threads of their own, and password hashing others still,
        # a bounded number of checks at once: walkers that hog theirs cannot stall logins, and a flood of
        # logins cannot stall logout, revocation or walkers.
        self.auth_executor = ThreadPoolExecutor(4, thread_name_prefix="jacws-auth")
        self.hash_executor = ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="jacws-hash")
        self._hashing = 0
        limits = settings.limits
        self.logins = LoginThrottle(
            limits.login_free_failures,
            limits.login_longest_wait,
            limits.login_failures_per_address,
            limits.login_window,
        )
        self.rest_walkers = Concurrency(limits.max_rest_walkers, limits.max_rest_walkers_per_user)
        self._closed = False
        self.relay = open_relay(settings.redis_url)
        self.hub = Hub(
            self.store,
            self.registry,
            self.executor,
            self.claims_or_none,
            settings.limits,
            settings.policy,
            relay=self.relay,
        )
        self.hub.on_revoked = self.revocations.add
        self._sync: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start on the server's loop: bind the hub, connect the relay, follow other processes."""
        self.hub.bind_loop()
        await self.relay.start()
        self._sync = asyncio.create_task(self._follow_other_processes(), name="jacws-sync")

    async def _follow_other_processes(self) -> None:
        # Revocations made elsewhere reach this process's open sockets through the relay at
        # once, and through the shared store within sync_seconds even when the relay is down.
        # Sockets whose token expired turn anonymous on the same beat.
        while True:
            await asyncio.sleep(self.settings.sync_seconds)
            try:
                fresh = await self.in_thread(self.revocations.refresh)
            except Exception:
                log.warning("could not read revocations from the store", exc_info=True)
                continue
            for jti in fresh:
                self.hub.revoke_local(jti)
            self.hub.expire(time.time())

    async def stop(self) -> None:
        """Close every socket (1001), stop following, disconnect the relay, then :meth:`close`."""
        if self._sync is not None:
            self._sync.cancel()
        await self.hub.close_all()
        await self.relay.stop()
        self.close(wait=1.0)

    def claims_or_none(self, token: str | None) -> Claims | None:
        """The claims of a valid token, None for a missing or invalid one (anonymous)."""
        try:
            return self.tokens.verify(bearer_token(token))
        except InvalidToken:
            return None

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking ``fn(*args)`` (password hashing, store calls) off the loop, apart from walkers."""
        return await asyncio.get_running_loop().run_in_executor(self.auth_executor, fn, *args)

    async def hashing(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a password hash or check ``fn(*args)`` on the hashing threads.

        Raises:
            ServerBusy: :data:`MAX_HASHING` checks are running or waiting already.
        """
        if self._hashing >= MAX_HASHING:
            raise ServerBusy("the server is busy checking passwords; try again in a moment")
        self._hashing += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.hash_executor, fn, *args)
        finally:
            self._hashing -= 1

    def close(self, wait: float = 0) -> None:
        """Drop queued work, wait up to ``wait`` seconds for running abilities, close the store (once).

        A plain ability still running after that finishes in its thread, unobserved.
        """
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + wait
        for executor in (self.executor, self.auth_executor, self.hash_executor):
            executor.shutdown(wait=False, cancel_futures=True)
            # ThreadPoolExecutor keeps its threads in _threads (stable since Python 3.2); it has
            # no public "join with a timeout".
            for thread in list(getattr(executor, "_threads", ())):
                thread.join(max(0.0, deadline - time.monotonic()))
        jac = sys.modules.get("jacws.jac")  # loaded only if Jac walkers were
        if jac is not None:
            jac.close_graph(self.store, max(0.0, deadline - time.monotonic()))
        self.store.close()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when a login names an unknown email (the same cost as a real check)."""
    return PasswordHasher().hash("not a password anyone has")


STATIC = Path(__file__).with_name("static")
"""The browser client: plain HTML, CSS and JavaScript, served as they are."""


def _static(name: str, media_type: str) -> Response:
    return Response((STATIC / name).read_bytes(), media_type=media_type, headers={"Cache-Control": "no-cache"})


def _json(status: int, content: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(encode(content), status_code=status, media_type="application/json", headers=headers)


def _answer(error: ClientError, headers: dict[str, str] | None = None) -> Response:
    """An HTTP answer from an error of the tree: its status, and ``error``/``code`` (jac-cloud's ``message``)."""
    return _json(error.http_status, error.to_http(), headers)


def _busy(busy: ServerBusy) -> Response:
    return _answer(busy, {"retry-after": "1"})


def _error(error: ClientError, kind: str = "error") -> Response:
    body = error.to_wire(kind)
    if isinstance(error, InvalidEvent) and error.details:
        body["detail"] = error.details  # FastAPI's key, for clients that read 422s that way
    return _json(error.http_status, body)


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidEvent("request body is not valid JSON", [{"loc": ["body"], "msg": "invalid JSON"}]) from None
    if not isinstance(value, dict):
        raise InvalidEvent("request body must be a JSON object", [{"loc": ["body"], "msg": "must be an object"}])
    return value


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


class _WebSocketEndpoint:
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
        try:
            await self._serve(scope, receive, send, address)
        finally:
            hub.leave(address)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, address: str) -> None:
        hub = self.runtime.hub
        socket = (scope.get("extensions") or {}).get(SOCKET)  # jacws's own protocol: it is the transport
        hub.handshakes += 1
        try:
            await send({"type": "websocket.accept"})
            plain = _SocketTransport(send)
            conn = self._connect(scope, plain if socket is None else cast(Transport, socket), address)
        finally:
            hub.handshakes -= 1
        handle = hub.handle_frame
        try:
            if socket is not None:  # frames come straight from the protocol as they are parsed
                socket.on_message(lambda frame: handle(conn, frame))
                await socket.wait_closed()
                return
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
            hub.disconnect(conn)

    def _connect(self, scope: Scope, transport: Transport, address: str) -> Connection:
        header = None
        trace = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                header = value.decode("latin-1")
            elif name == _TRACE_HEADER:  # a simulated client of this process (jacws.trace); others are ignored
                trace = claim_trace(value.decode("latin-1"))
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        channel_id = (query.get("channel_id") or [None])[0]
        claims = self.runtime.claims_or_none(header) if header else None
        return self.runtime.hub.connect(transport, claims, channel_id, trace, address)


def _walkers_busy(why: str, runs: Concurrency) -> Response:
    """``503`` when the server runs all the REST walkers it may, ``429`` when this user (or address) does."""
    error: ClientError
    if why == "full":
        error = ServerBusy(f"the server is running {runs.total} walkers at once; try again")
    else:
        error = RateLimited(f"too many walkers at once: at most {runs.per_key} per user; wait for one to finish")
    return _json(error.http_status, error.to_wire("walker"), {"retry-after": "1"})


def _path_pattern(path: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", path.strip("/"))
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
    return re.compile(regex)


class JacWSApp:
    """The ASGI application: ``/websocket`` straight to its endpoint, everything else to FastAPI.

    The socket skips FastAPI's middleware and routing (they do nothing for it), which
    makes connecting cheaper.
    """

    def __init__(self, runtime: Runtime, api: FastAPI) -> None:
        self.runtime = runtime
        self.api = api
        self.socket = _WebSocketEndpoint(runtime)
        settings = runtime.settings
        served: ASGIApp = api
        if settings.allowed_origins:  # cross-origin reads for the listed pages: Starlette's CORS
            served = CORSMiddleware(
                api,
                allow_origins=list(settings.allowed_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type"],
            )
        self._served = served
        self._limited = BodyLimit(served, settings.limits.max_body_bytes)
        self._guard = RequestGuard(
            self._route, host_rule(settings.host, settings.allowed_hosts), settings.allowed_origins
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._guard(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/websocket":
            await self.socket(scope, receive, send)
        elif scope["type"] == "http":
            await self._limited(scope, receive, send)
        else:
            await self._served(scope, receive, send)


def create_app(runtime: Runtime) -> JacWSApp:
    """The ASGI application serving one runtime (``.api`` is its FastAPI part)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        yield
        await runtime.stop()

    # No /docs or /openapi.json: they would tell clients which libraries (and versions) answer.
    app = FastAPI(title="jacws", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    hub, tokens, store, hasher = runtime.hub, runtime.tokens, runtime.store, runtime.hasher

    @app.post("/user/register", status_code=201)
    async def register(request: Request) -> Response:
        try:
            body = await _json_body(request)
            email, password = body.get("email"), body.get("password")
            details = []
            email_wrong = email_problem(email)
            if email_wrong is not None:
                details.append({"loc": ["email"], "msg": email_wrong})
            problem = password_problem(password)
            if problem is not None:
                details.append({"loc": ["password"], "msg": problem})
            if details:
                raise InvalidEvent("invalid registration", details)
        except ClientError as error:
            return _error(error)
        assert isinstance(email, str) and isinstance(password, str)
        try:
            password_hash = await runtime.hashing(hasher.hash, password)
        except ServerBusy as busy:
            return _busy(busy)
        try:
            await runtime.in_thread(store.create_user, email, password_hash)
        except UserExists:
            return _answer(UserExists())
        return _json(201, {"message": "Successfully Registered!"})

    @app.post("/user/login")
    async def login(request: Request) -> Response:
        try:
            body = await _json_body(request)
        except ClientError as error:
            return _error(error)
        email, password = body.get("email"), body.get("password")
        account = email if isinstance(email, str) else ""
        address = request.client.host if request.client is not None else ""
        wait = runtime.logins.wait(account, address)
        if wait:  # refused before any hashing: a flood of guesses costs nothing
            refusal = RateLimited(f"too many failed logins: try again in {wait} s")
            return _answer(refusal, {"retry-after": str(wait)})
        user = await runtime.in_thread(store.get_user_by_email, email) if account else None
        verified = False
        if isinstance(password, str) and len(password) <= MAX_PASSWORD:
            # An unknown email still costs one hash check, so timing does not tell which emails exist.
            password_hash = user.password_hash if user is not None else _dummy_hash()
            try:
                verified = await runtime.hashing(hasher.verify, password_hash, password)
            except ServerBusy as busy:
                return _busy(busy)
        if user is not None and verified:
            runtime.logins.succeeded(account)
            token = tokens.issue(user.id, user.email, user.root_id)
            root_hex = user.root_id.removeprefix("n::")
            return _json(200, {"token": token, "user": {"id": user.id, "email": user.email, "root_id": root_hex}})
        runtime.logins.failed(account, address)
        return _answer(InvalidCredentials())

    @app.post("/user/logout")
    async def logout(request: Request) -> Response:
        try:
            claims = tokens.verify(bearer_token(request.headers.get("authorization")))
        except InvalidToken as error:
            return _answer(AuthRequired(f"not logged in: {error}"))
        await runtime.in_thread(tokens.revoke, claims)
        hub.revoke(claims.jti)
        return _json(200, {"message": "Successfully Logged Out!"})

    @app.get("/")
    async def browser_client() -> Response:
        return _static("index.html", "text/html; charset=utf-8")

    @app.get("/app.js")
    async def browser_script() -> Response:
        return _static("app.js", "text/javascript; charset=utf-8")

    @app.get("/app.css")
    async def browser_style() -> Response:
        return _static("app.css", "text/css; charset=utf-8")

    @app.get("/walkers")
    async def walkers() -> Response:
        return _json(200, {"walkers": [describe_walker(cls) for cls in runtime.registry.served()]})

    @app.get("/healthz")
    async def healthz() -> Response:
        status = {
            "status": "ok",
            "process": runtime.relay.origin,  # which process answered, when several share the port
            "connections": len(hub.connections),
            "relay": runtime.relay.status(),
        }
        return _json(200, status)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    @app.api_route("/walker/{name}", methods=methods)
    async def walker(name: str, request: Request) -> Response:
        return await call_walker(name, "", request)

    @app.api_route("/walker/{name}/{rest:path}", methods=methods)
    async def walker_on_node(name: str, rest: str, request: Request) -> Response:
        return await call_walker(name, rest, request)

    async def call_walker(name: str, rest: str, request: Request) -> Response:
        try:
            cls = runtime.registry.get(name)
            specs = cls.__jacws_specs__ if cls else None
            if cls is None or specs is None or specs.private or not specs.http_methods:
                raise UnknownWalker(f"unknown walker {name[:100]!r}")
            method = request.method.lower()
            if method not in specs.http_methods:
                allowed = ", ".join(m.upper() for m in specs.http_methods)
                return _answer(MethodNotAllowed(f"walker {name} accepts {allowed}"))
            claims = _rest_claims(request)
            if specs.auth and claims is None:
                return _error(AuthRequired(f"walker {name} requires a logged-in user"), "walker")
            fields, node_id = await _walker_input(cls, method, rest, request)
            root_id = claims.root_id if claims else PUBLIC_ROOT_ID
            runner = budget_key(claims.root_id if claims else None, client_address(request.scope))
            admitted = runtime.rest_walkers.enter(runner)
            if admitted != "ok":
                return _walkers_busy(admitted, runtime.rest_walkers)
            session = GraphSession(store, root_id)
            notifier = HubNotifier(hub, None, Cause("response", "rest", walker=name) if hub.traced else None)
            timeout = runtime.settings.limits.walker_timeout
            started = hub.clock()
            try:
                reports = await run_walker(cls, fields, session, notifier, runtime.executor, node_id, timeout)
            finally:
                runtime.rest_walkers.leave(runner)
                notifier.active = False
                hub.metrics.walker_ran(hub.clock() - started)
        except InvalidToken as error:
            return _error(AuthRequired(f"invalid token: {error}"), "walker")
        except ClientError as error:
            return _error(error, "walker")
        return _json(200, walker_response(reports))

    def _rest_claims(request: Request) -> Claims | None:
        token = bearer_token(request.headers.get("authorization"))
        return tokens.verify(token) if token else None

    return JacWSApp(runtime, app)


async def _walker_input(
    cls: type[Walker], method: str, rest: str, request: Request
) -> tuple[dict[str, Any], str | None]:
    specs = cls.__jacws_specs__
    fields: dict[str, Any] = {} if method in ("get", "head") else await _json_body(request)
    query_fields = (
        set(cls.__jacws_fields__) if method in ("get", "head") or "*" in specs.as_query else set(specs.as_query)
    )
    for key in query_fields:
        values = request.query_params.getlist(key)
        if values:
            fields[key] = values if len(values) > 1 else values[0]
    node_id = None
    rest = rest.strip("/")
    if rest:
        head, _, tail = rest.partition("/")
        try:
            node_id = normalize_node_id(head)
            rest = tail
        except ValueError:
            node_id = None
        if rest:
            match = _path_pattern(specs.path).fullmatch(rest) if specs.path else None
            if match is None:
                raise UnknownWalker(f"no route /walker/{cls.__name__}/{rest[:100]}")
            fields.update(match.groupdict())
    return fields, node_id

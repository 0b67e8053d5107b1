"""The ASGI application: ``/websocket``, ``/user/*``, ``/walker/*``, ``/walkers``, ``/healthz``, the browser page.

The routes are plain endpoint functions that find their :class:`~jacws.runtime.Runtime` (store, tokens, hub,
walker threads) on the application's state; :func:`create_app` builds the application around one runtime.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.datastructures import FormData
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from .addresses import client_address
from .auth import (
    MAX_PASSWORD,
    PasswordHasher,
    bearer_token,
    email_problem,
    password_problem,
)
from .bodylimit import BodyLimit
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
from .forms import read_form
from .notify import HubNotifier
from .origins import RequestGuard, host_rule
from .protocol import PUBLIC_ROOT_ID, encode, normalize_node_id, walker_response
from .ratelimit import Concurrency, budget_key
from .trace import Cause
from .walkers import Walker, describe_walker
from .websocket_route import WebSocketEndpoint

if TYPE_CHECKING:
    from .runtime import Runtime
    from .settings import Limits

__all__ = ["JacWSApp", "create_app"]

log = logging.getLogger("jacws")


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
        self.socket = WebSocketEndpoint(runtime)
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
        limits = settings.limits
        self._limited = BodyLimit(served, limits.max_body_bytes, limits.max_upload_bytes, self._takes_files)
        self._guard = RequestGuard(
            self._route, host_rule(settings.host, settings.allowed_hosts), settings.allowed_origins, self._takes_files
        )

    def _takes_files(self, path: str) -> bool:
        """Whether ``path`` is that of a served walker with file fields (``/walker/{name}[/...]``)."""
        if not path.startswith("/walker/"):
            return False
        cls = self.runtime.registry.get(path[len("/walker/") :].split("/", 1)[0])
        return cls is not None and bool(cls.__jacws_files__)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._guard(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/websocket":
            await self.socket(scope, receive, send)
        elif scope["type"] == "http":
            await self._limited(scope, receive, send)
        else:
            await self._served(scope, receive, send)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def register(request: Request) -> Response:
    """``POST /user/register``: a new user with a root node (checked email, 8 to 1,024 character password)."""
    runtime = _runtime(request)
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
        password_hash = await runtime.hashing(runtime.hasher.hash, password)
    except ServerBusy as busy:
        return _busy(busy)
    try:
        await runtime.in_thread(runtime.store.create_user, email, password_hash)
    except UserExists:
        return _answer(UserExists())
    return _json(201, {"message": "Successfully Registered!"})


async def login(request: Request) -> Response:
    """``POST /user/login``: a token for a right email and password; failures throttled before any hashing."""
    runtime = _runtime(request)
    try:
        body = await _json_body(request)
    except ClientError as error:
        return _error(error)
    email, password = body.get("email"), body.get("password")
    account = email if isinstance(email, str) else ""
    address = client_address(request.scope)
    wait = runtime.logins.wait(account, address)
    if wait:  # refused before any hashing: a flood of guesses costs nothing
        refusal = RateLimited(f"too many failed logins: try again in {wait} s")
        return _answer(refusal, {"retry-after": str(wait)})
    user = await runtime.in_thread(runtime.store.get_user_by_email, email) if account else None
    verified = False
    if isinstance(password, str) and len(password) <= MAX_PASSWORD:
        # An unknown email still costs one hash check, so timing does not tell which emails exist.
        password_hash = user.password_hash if user is not None else _dummy_hash()
        try:
            verified = await runtime.hashing(runtime.hasher.verify, password_hash, password)
        except ServerBusy as busy:
            return _busy(busy)
    if user is not None and verified:
        runtime.logins.succeeded(account)
        token = runtime.tokens.issue(user.id, user.email, user.root_id)
        root_hex = user.root_id.removeprefix("n::")
        return _json(200, {"token": token, "user": {"id": user.id, "email": user.email, "root_id": root_hex}})
    runtime.logins.failed(account, address)
    return _answer(InvalidCredentials())


async def logout(request: Request) -> Response:
    """``POST /user/logout``: the token is revoked everywhere, open sockets included."""
    runtime = _runtime(request)
    try:
        claims = runtime.tokens.verify(bearer_token(request.headers.get("authorization")))
    except InvalidToken as error:
        return _answer(AuthRequired(f"not logged in: {error}"))
    await runtime.in_thread(runtime.tokens.revoke, claims)
    runtime.hub.revoke(claims.jti)
    return _json(200, {"message": "Successfully Logged Out!"})


async def browser_client() -> Response:
    """``GET /``: the browser client page."""
    return _static("index.html", "text/html; charset=utf-8")


async def browser_script() -> Response:
    return _static("app.js", "text/javascript; charset=utf-8")


async def browser_style() -> Response:
    return _static("app.css", "text/css; charset=utf-8")


async def walkers(request: Request) -> Response:
    """``GET /walkers``: the served walkers, their methods, auth and fields."""
    served = _runtime(request).registry.served()
    return _json(200, {"walkers": [describe_walker(cls) for cls in served]})


async def healthz(request: Request) -> Response:
    """``GET /healthz``: this process, its connections and its relay."""
    runtime = _runtime(request)
    status = {
        "status": "ok",
        "process": runtime.relay.origin,  # which process answered, when several share the port
        "connections": len(runtime.hub.connections),
        "relay": runtime.relay.status(),
    }
    return _json(200, status)


async def walker(name: str, request: Request) -> Response:
    """``/walker/{name}``: a walker run on the caller's root."""
    return await call_walker(name, "", request)


async def walker_on_node(name: str, rest: str, request: Request) -> Response:
    """``/walker/{name}/{node_id}``: a walker run on one of the caller's nodes."""
    return await call_walker(name, rest, request)


async def call_walker(name: str, rest: str, request: Request) -> Response:
    """Run a walker over REST: its methods and auth checked, capped per user, within the time limit."""
    runtime = _runtime(request)
    hub = runtime.hub
    try:
        token = bearer_token(request.headers.get("authorization"))
        claims = runtime.tokens.verify(token) if token else None
        method = request.method.lower()
        cls = hub.runner.walker_for(name, "http", claims is None, method)
        form: FormData | None = None
        try:
            fields, node_id, form = await _walker_input(cls, method, rest, request, runtime.settings.limits)
            caller = budget_key(claims.root_id if claims else None, client_address(request.scope))
            admitted = runtime.rest_walkers.enter(caller)
            if admitted != "ok":
                return _walkers_busy(admitted, runtime.rest_walkers)
            notifier = HubNotifier(hub, None, Cause("response", "rest", walker=name) if hub.traced else None)
            started = hub.clock()
            try:
                root_id = claims.root_id if claims else PUBLIC_ROOT_ID
                reports = await hub.runner.run(cls, fields, root_id, notifier, node_id)
            finally:
                runtime.rest_walkers.leave(caller)
                notifier.active = False
                hub.metrics.walker_ran(hub.clock() - started)
        finally:
            if form is not None:  # the uploads' temporary files
                await form.close()
    except InvalidToken as error:
        return _error(AuthRequired(f"invalid token: {error}"), "walker")
    except MethodNotAllowed as error:
        return _answer(error)
    except ClientError as error:
        return _error(error, "walker")
    return _json(200, walker_response(reports))


WALKER_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def create_app(runtime: Runtime) -> JacWSApp:
    """The ASGI application serving one runtime (``.api`` is its FastAPI part)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        yield
        await runtime.stop()

    # No /docs or /openapi.json: they would tell clients which libraries (and versions) answer.
    api = FastAPI(title="jacws", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    api.state.runtime = runtime
    api.add_api_route("/user/register", register, methods=["POST"], status_code=201)
    api.add_api_route("/user/login", login, methods=["POST"])
    api.add_api_route("/user/logout", logout, methods=["POST"])
    api.add_api_route("/", browser_client, methods=["GET"])
    api.add_api_route("/app.js", browser_script, methods=["GET"])
    api.add_api_route("/app.css", browser_style, methods=["GET"])
    api.add_api_route("/walkers", walkers, methods=["GET"])
    api.add_api_route("/healthz", healthz, methods=["GET"])
    api.add_api_route("/walker/{name}", walker, methods=WALKER_METHODS)
    api.add_api_route("/walker/{name}/{rest:path}", walker_on_node, methods=WALKER_METHODS)
    return JacWSApp(runtime, api)


async def _walker_input(
    cls: type[Walker], method: str, rest: str, request: Request, limits: Limits
) -> tuple[dict[str, Any], str | None, FormData | None]:
    """The walker's fields (from the JSON body or a form, the query and the path), its start node, and the
    form to close after the run (for a form body)."""
    specs = cls.__jacws_specs__
    form: FormData | None = None
    content_type = request.headers.get("content-type", "").lower()
    if method in ("get", "head"):
        fields: dict[str, Any] = {}
    elif content_type.startswith("multipart/form-data"):
        fields, form = await read_form(request, cls.__jacws_fields__, limits.max_upload_files)
    else:
        fields = await _json_body(request)
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
    return fields, node_id, form

"""One place that assembles a server: the services of one runtime, the ASGI app, uvicorn around them.

:class:`Runtime` holds what one server needs (store, tokens, password hashing, hub, relay, walker threads);
:func:`build` puts a runtime, :func:`jacws.app.create_app` and uvicorn (:func:`uvicorn_config`) together.
The notebook handle (:mod:`jacws.server`), ``jacws serve`` (:mod:`jacws.cli`) and the tests all use it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .addresses import Networks
from .app import create_app
from .auth import Claims, PasswordHasher, RevocationCache, TokenIssuer, bearer_token
from .errors import InvalidToken, ServerBusy
from .httpguard import Slots, guarded_http
from .hub import Hub
from .ratelimit import Concurrency
from .redact import redact_uvicorn_logs
from .relays import open_relay
from .settings import Settings, load_or_create_secret
from .stores import Store, open_store
from .throttle import LoginThrottle
from .walkers import WalkerRegistry, registry
from .wsprotocol import JacWSProtocol

__all__ = ["HASH_THREADS", "MAX_HASHING", "Runtime", "UvicornServer", "build", "uvicorn_config"]

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
        limits = settings.limits
        self.relay = open_relay(
            settings.redis_url,
            presence_timeout=settings.presence_timeout,
            history_size=limits.history_size,
            history_seconds=limits.history_seconds,
        )
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


def uvicorn_config(app: Any, settings: Settings, ws: Any = None, **extra: Any) -> uvicorn.Config:
    """uvicorn's configuration for jacws: httptools behind our guard (connection slots, header limits),
    jacws's websocket protocol, our frame limit.

    ``ws`` replaces jacws's websocket protocol class (the app then uses plain ASGI).
    """
    limits = settings.limits
    redact_uvicorn_logs()  # no channel ids in its INFO lines
    proxies = Networks(settings.trusted_proxies)
    slots = Slots(limits.max_connections, limits.max_connections_per_address, proxies)
    http = guarded_http(HttpToolsProtocol, slots, limits.max_header_bytes, limits.header_timeout)
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=http,
        ws=ws or JacWSProtocol,
        ws_max_size=settings.limits.max_frame_bytes,
        ws_per_message_deflate=False,
        ws_ping_interval=settings.ping_interval,
        ws_ping_timeout=settings.ping_interval,
        log_level=settings.log_level,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=5,
        proxy_headers=bool(proxies),  # only trusted proxies may say whose a connection is
        forwarded_allow_ips=list(proxies.entries) or None,
        server_header=False,  # do not tell clients which server library answers
        **extra,
    )


class UvicornServer(uvicorn.Server):
    """uvicorn's server around one runtime, closing our sockets with the code and reason ``closing()`` gives
    (1001, or 1012 when ``jacws serve --reload`` replaces it) before it shuts down; ``ready`` is set once it
    accepts connections."""

    def __init__(self, config: uvicorn.Config, runtime: Runtime) -> None:
        super().__init__(config)
        self.runtime = runtime
        self.hub = runtime.hub
        self.ready = threading.Event()
        self.closing: Callable[[], tuple[int, str]] = lambda: (1001, "server shutdown")

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:  # stop accepting first: a client reconnecting after our close frame
            server.close()  # reaches another process on a shared socket (jacws serve --reload), not this one
        await self.hub.close_all(*self.closing(), timeout=5)  # through the hub, whatever the protocol
        await super().shutdown(sockets)


def build(settings: Settings, walkers: WalkerRegistry | None = None, ws: Any = None) -> UvicornServer:
    """A server for ``settings``: its runtime, its app and uvicorn, ready to ``run`` or ``serve`` on a socket.

    ``ws`` replaces jacws's websocket protocol class (tests of the plain-ASGI path).
    """
    runtime = Runtime(settings, walkers)
    return UvicornServer(uvicorn_config(create_app(runtime), settings, ws=ws), runtime)

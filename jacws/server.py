"""The server handle: uvicorn in a background thread, started and stopped from a notebook cell.

``jacws.start()`` binds 127.0.0.1 on a free port (or the one given), returns once the
server accepts connections, and replaces a server started earlier in the same process
(re-running a cell). ``stop()`` closes every connection with 1001 and returns when the
port is closed. No signal handler is touched from the background thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import errno
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any
from urllib.parse import urlsplit

from .client import Client
from .errors import PortInUse, ServerError
from .hub import Hub
from .load import Load
from .notify import HubNotifier, NotifiesThrough
from .proxy import browser_url
from .rest import login, register
from .runtime import Runtime, UvicornServer, build
from .settings import Settings
from .walkers import WalkerRegistry, describe_walker

__all__ = ["Server", "ServerState", "bind_socket", "start"]

log = logging.getLogger("jacws")


class ServerState(enum.Enum):
    """The life of a server handle."""

    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is absent on Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (SO_REUSEADDR), with a clear error when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUse(f"port {port} on {host} is taken by another program; use port=0 for a free one") from None
        raise ServerError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class Server(NotifiesThrough):
    """A jacws server running in a background thread of this process.

    Args:
        settings: the server's settings (``port=0`` picks a free port).
        walkers: the walker registry to serve (the process-wide one by default).
    """

    def __init__(self, settings: Settings | None = None, walkers: WalkerRegistry | None = None) -> None:
        self.settings = settings or Settings(port=0)
        self.walkers = walkers
        self.state = ServerState.STOPPED
        self.port: int | None = None
        self._last_port: int | None = None
        self._replaceable = False  # started by jacws.start(): the next jacws.start() stops it
        self.runtime: Runtime | None = None
        self._thread: threading.Thread | None = None
        self._uvicorn: UvicornServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self.clients: list[Client] = []
        self._load: Load | None = None

    @property
    def host(self) -> str:
        """The interface the server listens on."""
        return self.settings.host

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._require_port()}"

    @property
    def ws_url(self) -> str:
        """``ws://HOST:PORT/websocket`` of the running server."""
        return "ws" + self.url[len("http") :] + "/websocket"

    def browser_url(self, path: str = "/") -> str:
        """The URL a browser uses to reach this server (through jupyter-server-proxy on Binder)."""
        return browser_url(self._require_port(), path)

    def _require_port(self) -> int:
        if self.port is None:
            raise ServerError("the server is not running: call start() first")
        return self.port

    def start(self, timeout: float = 15) -> Server:
        """Bind, start the thread and return once connections are accepted.

        Raises:
            PortInUse: the port is taken.
            ServerError: the server is already running or failed to start.
        """
        if self.state is not ServerState.STOPPED:
            raise ServerError(f"cannot start a server that is {self.state.value}; expected stopped")
        sock = bind_socket(self.settings.host, self.settings.port)
        self.port = sock.getsockname()[1]
        self.state = ServerState.STARTING
        try:
            settings = self.settings.with_changes(port=self.port)
            self._uvicorn = build(settings, self.walkers)
            self.runtime = self._uvicorn.runtime
        except BaseException:
            sock.close()
            self.state, self.port, self.runtime = ServerState.STOPPED, None, None
            raise
        self._error = None
        self._thread = threading.Thread(target=self._run, args=(sock,), name=f"jacws-server-{self.port}", daemon=True)
        self._thread.start()
        ready = self._uvicorn.ready
        if not ready.wait(timeout) or self._error is not None:
            self._uvicorn.should_exit = True
            self._thread.join(timeout)
            self.state = ServerState.STOPPED
            self.port = None
            raise ServerError(f"the server did not start: {self._error!r}")
        self.state = ServerState.RUNNING
        with _started_lock:
            _running.append(self)
        if self._replaceable:
            with _started_lock:
                _started.append(self)
        log.info("jacws serving on %s", self.url)
        return self

    def _run(self, sock: socket.socket) -> None:
        assert self._uvicorn is not None and self.runtime is not None
        loop = _new_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._uvicorn.serve(sockets=[sock]))
        except BaseException as error:  # reported to start() or logged by stop()
            self._error = error
            log.exception("jacws server thread failed")
        finally:
            self._uvicorn.ready.set()
            sock.close()
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self.runtime.close(wait=5.0)

    def stop(self, timeout: float = 15) -> None:
        """Close every connection with 1001, stop the server and return when the port is closed."""
        if self.state is ServerState.STOPPED:
            return
        self.state = ServerState.STOPPING
        assert self._uvicorn is not None and self._thread is not None
        self._uvicorn.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._uvicorn.force_exit = True
            self._thread.join(timeout)
        self.state = ServerState.STOPPED
        self._last_port, self.port = self.port, None
        self._thread = None
        _forget_started(self)
        with _started_lock:
            if self in _running:
                _running.remove(self)

    def restart(self) -> Server:
        """Stop (if running) and start again on the same port (the in-memory store starts empty)."""
        port = self.port or self._last_port
        self.stop()
        if port is not None:
            self.settings = self.settings.with_changes(port=port)
        return self.start()

    def _notifier(self) -> HubNotifier:
        """``notify_*`` from outside a walker (a notebook cell, a background task) go through the hub's."""
        return self.hub.notifier

    @property
    def hub(self) -> Hub:
        """The hub of the running server."""
        if self.runtime is None:
            raise ServerError("the server is not running: call start() first")
        return self.runtime.hub

    def metrics(self, timeout: float = 5) -> dict[str, Any]:
        """The live numbers: ``connections``, ``users_online``, ``messages_in_per_s`` and ``messages_out_per_s``
        (over the last second or so), the totals ``messages_in``/``messages_out``, ``walker_runs`` and the
        latency of the last 1,000 (``walker_p50_ms``, ``walker_p99_ms``; None before any), ``largest_backlog``
        (messages queued for the slowest socket), ``channel_count`` and the ten largest ``channels`` with their
        member counts; ``closed_by_server`` (close codes counted); ``load``, the figures of the latest
        :meth:`load` (its ``phase`` says whether it still runs). Cheap: read on the server's loop in one step.

        Raises:
            ServerError: the server is not running.
        """
        numbers = self._on_loop(lambda: self.hub.read_metrics(), timeout)
        if self._load is not None:
            numbers["load"] = self._load.numbers()
        return numbers

    def load(
        self,
        clients: int = 200,
        channel_id: str = "load",
        rate: float = 1000,
        seconds: float = 10,
        payload: int = 100,
        slow: int = 0,
    ) -> Load:
        """Put load on this server: ``clients`` lightweight clients (in a process of their own, not widgets)
        join ``channel_id`` and publish ``rate`` channel events per second between them for ``seconds``,
        each with ``payload`` bytes of filler; ``slow`` of them stop reading. Returns at once with a
        :class:`~jacws.load.Load` whose figures :meth:`metrics` (and the panel) show while it runs.

        Raises:
            ServerError: the server is not running.
            ValueError: impossible figures.
        """
        if self.state is not ServerState.RUNNING:
            raise ServerError("the server is not running: call start() first")
        if self._load is not None and not self._load.finished:
            self._load.stop()
        self._load = Load(self.ws_url, clients, channel_id, rate, seconds, payload, slow)
        return self._load

    def _on_loop(self, read: Callable[[], dict[str, Any]], timeout: float) -> dict[str, Any]:
        """``read()`` on the server's loop (where the hub's indexes change), its result here."""
        loop = self._loop
        if loop is None or self.state is not ServerState.RUNNING:
            raise ServerError("the server is not running: call start() first")
        taken: Future[dict[str, Any]] = Future()

        def take() -> None:
            try:
                taken.set_result(read())
            except Exception as error:  # pragma: no cover - reported to the caller
                taken.set_exception(error)

        loop.call_soon_threadsafe(take)
        return taken.result(timeout)

    def snapshot(self, timeout: float = 5) -> dict[str, Any]:
        """The live state: connections, channels, online users, registered users and walkers.

        Raises:
            ServerError: the server is not running.
        """
        snapshot = self._on_loop(lambda: self.hub.snapshot(), timeout)
        assert self.runtime is not None
        snapshot["registered_users"] = self.runtime.store.user_count()
        snapshot["walkers"] = [describe_walker(cls) for cls in self.runtime.registry.served()]
        return snapshot

    @property
    def playground_password(self) -> str:
        """The password :meth:`client` registers users with: random for each server (derived from its
        token secret, so a file database's users keep it across restarts), known to this process only."""
        if self.runtime is None:
            raise ServerError("the server is not running: call start() first")
        return self.runtime.playground_password

    def client(
        self,
        user: str | None = None,
        channel_id: str | None = None,
        token: str | None = None,
        name: str | None = None,
        password: str | None = None,
    ) -> Client:
        """Open a simulated client: anonymous, with a ``token``, or as ``user`` (an email).

        A ``user`` is registered (if new) and logged in with ``password`` first, by default
        :attr:`playground_password`.
        """
        email = user
        if user and not token:
            password = password or self.playground_password
            register(self.url, user, password)
            token = login(self.url, user, password)["token"]
        client = Client(self.ws_url, token=token, channel_id=channel_id, name=name or user, email=email)
        self.clients.append(client)
        return client

    def __enter__(self) -> Server:
        if self.state is ServerState.STOPPED:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f" {self.url}" if self.port else ""
        return f"<jacws.Server {self.state.value}{where}>"


_started: list[Server] = []  # servers started by start(), which the next start() replaces
_running: list[Server] = []  # every server of this process that is running
_started_lock = threading.Lock()


def _forget_started(server: Server) -> None:
    with _started_lock:
        if server in _started:
            _started.remove(server)


def find_server(ws_url: str) -> Server | None:
    """The running server of this process that ``ws_url`` (a client's) reaches, or None."""
    target = urlsplit(ws_url)
    with _started_lock:
        running = list(_running)
    for server in running:
        if server.port == target.port and (target.hostname in ("localhost", server.host) or server.host == "0.0.0.0"):
            return server
    return None


def start(
    host: str = "127.0.0.1",
    port: int = 0,
    db: str | None = None,
    secret: str | None = None,
    walkers: WalkerRegistry | None = None,
    redis_url: str | None = None,
    replace: bool = True,
    **settings: Any,
) -> Server:
    """Start a jacws server in a background thread and return its handle.

    A server started earlier by this function is stopped first, so re-running a
    notebook cell replaces it; ``replace=False`` keeps earlier ones running (several
    servers side by side, sharing ``redis_url``). Other settings (``policy``, ``token_lifetime``,
    limits such as ``max_backlog_messages``) are passed by name. Every client of a notebook's server
    comes from this machine, so ``max_connections_per_address`` is ``max_connections`` unless given.

    Raises:
        PortInUse: ``port`` is taken by another program.
    """
    if replace:
        with _started_lock:
            previous = list(_started)
        for earlier in previous:
            earlier.stop()
    config = Settings(host=host, port=port, db=db, secret=secret, redis_url=redis_url).with_changes(**settings)
    if "max_connections_per_address" not in settings:
        config = config.with_changes(max_connections_per_address=config.limits.max_connections)
    server = Server(config, walkers)
    server._replaceable = True
    return server.start()

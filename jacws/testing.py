"""Testing walkers with pytest: the ``jacws_server`` and ``jacws_client`` fixtures, and session replays.

Installed with jacws as a pytest plugin (the ``pytest11`` entry point), so any test can ask
for the fixtures::

    @pytest.mark.jacws_walkers("walkers.py")       # or Walker classes, "pkg.module", "app.jac"
    def test_greeting_reaches_the_lobby(jacws_client):
        alice = jacws_client(user="alice@example.com", channel_id="lobby")
        bob = jacws_client(channel_id="lobby")
        alice.walker("greet", name="Ada").result()
        assert bob.wait_for(lambda m: m.get("type") == "greeting")["text"] == "hello Ada"

A single class goes in a list, ``jacws_walkers([greet])``: pytest reads a mark called with one
class alone as marking that class. ``jacws_server`` is a started in-memory server on 127.0.0.1
and a free port (the same handle as :func:`jacws.start` gives, with its ``url``), stopped after
the test. Without the marker it serves every walker defined so far. :class:`Replay` runs a session exported from the
playground (:mod:`jacws.export`) again. Nothing heavy is imported until a fixture is used.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .normalize import Normalizer, token_email

if TYPE_CHECKING:
    from .client import Client
    from .server import Server
    from .walkers import WalkerRegistry

__all__ = ["ClientFactory", "JacSource", "Replay", "jac_source", "jacws_client", "jacws_server"]

MARKER = "jacws_walkers"


@dataclass(frozen=True)
class JacSource:
    """Jac walkers given as source text (a ``%%jac`` cell), for the ``jacws_walkers`` marker."""

    source: str
    name: str = "jac_cell"


def jac_source(source: str, name: str = "jac_cell") -> JacSource:
    """Jac walkers from source text, to name in ``@pytest.mark.jacws_walkers(...)``."""
    return JacSource(source, name)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*walkers): the walkers jacws_server serves: Walker classes, .py or .jac files, "
        "module names, jac_source(...)",
    )


def build_registry(walkers: tuple[Any, ...], folder: Path) -> WalkerRegistry:
    """A registry of ``walkers``: classes, registries, ``.py``/``.jac`` paths (relative to ``folder``),
    dotted module names, :class:`JacSource`, or lists of these.

    Raises:
        TypeError: something that names no walkers.
        FileNotFoundError: a path that is not a file.
    """
    from .walkers import Walker, WalkerRegistry

    registry = WalkerRegistry()
    for given in walkers:
        if isinstance(given, (list, tuple)):  # jacws_walkers([cls]): a class alone would mark the class
            for cls in build_registry(tuple(given), folder):
                registry.register(cls)
        elif isinstance(given, type) and issubclass(given, Walker):
            registry.register(given)
        elif isinstance(given, WalkerRegistry):
            for cls in given:
                registry.register(cls)
        elif isinstance(given, JacSource):
            from .jac import load_jac

            for cls in load_jac(source=given.source, name=given.name):
                registry.register(cls)
        elif isinstance(given, (str, Path)):
            for cls in _walkers_of(given, folder):
                registry.register(cls)
        else:
            raise TypeError(f"{MARKER}: {given!r} names no walkers (a Walker class, a path or a module name)")
    return registry


def _walkers_of(given: str | Path, folder: Path) -> list[Any]:
    from .walkers import Walker

    text = str(given)
    if text.endswith((".py", ".jac")):
        path = Path(text) if Path(text).is_absolute() else folder / text
        if not path.is_file():
            raise FileNotFoundError(f"{MARKER}: no such file: {path}")
        if path.suffix == ".jac":
            from .jac import load_jac

            return load_jac(path)
        name = f"jacws_walkers_{path.stem}_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has a spec
            raise TypeError(f"{MARKER}: cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(text)
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Walker) and value.__module__ == module.__name__
    ]


@pytest.fixture
def jacws_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A started in-memory jacws server (its ``url``, ``ws_url``, ``client()``), stopped after the test."""
    from .server import Server
    from .settings import Settings

    marker = request.node.get_closest_marker(MARKER)
    registry = build_registry(marker.args, request.path.parent) if marker is not None else None
    server = Server(Settings(host="127.0.0.1", port=0), registry).start()
    try:
        yield server
    finally:
        server.stop()


class ClientFactory:
    """``jacws_client()``: an anonymous connected client; ``jacws_client(user=..., channel_id=...)`` as
    :meth:`Server.client <jacws.server.Server.client>`. Every client has ``wait_for``."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def __call__(
        self, user: str | None = None, channel_id: str | None = None, token: str | None = None, name: str | None = None
    ) -> Client:
        return self.server.client(user=user, channel_id=channel_id, token=token, name=name)

    def token(self, email: str) -> str:
        """A login token of ``email`` (registered first if new), with the playground's password."""
        from .rest import login, register

        password = self.server.playground_password
        register(self.server.url, email, password)
        return str(login(self.server.url, email, password)["token"])


@pytest.fixture
def jacws_client(jacws_server: Server) -> ClientFactory:
    """A factory of clients connected to ``jacws_server`` (closed when the server stops)."""
    return ClientFactory(jacws_server)


class Replay:
    """A recorded session run again: each action in order, each waited for, what each client received.

    Args:
        clients: the ``jacws_client`` factory.
        timeout: seconds to wait for each action's messages (a shortfall shows in :meth:`received`).
    """

    def __init__(self, clients: ClientFactory, timeout: float = 5.0) -> None:
        self.factory = clients
        self.timeout = timeout
        self.normalizer = Normalizer()
        self.clients: dict[str, Client] = {}
        self._identity: dict[str, str | None] = {}
        self._seen: dict[str, int] = {}
        self._received: dict[str, list[Any]] = {}
        self._tokens: dict[str, str] = {}
        self._settled = False

    def connect(self, name: str, user: str | None = None, channel_id: str | None = None) -> Client:
        """Open the session's client ``name`` (as ``user``, on ``channel_id``) and take its connection event."""
        client = self.factory(user=user, channel_id=channel_id, name=name)
        self.clients[name] = client
        self._identity[name] = user
        self._seen[name] = 0
        self._received[name] = []
        self._take({name: 1})
        return client

    def reconnect(self, name: str) -> None:
        """Close and connect ``name`` again (a new client id) and take its connection event."""
        self.clients[name].reconnect()
        self._take({name: 1})

    def send(self, name: str, event: dict[str, Any], expect: dict[str, int]) -> None:
        """Send ``event`` (placeholders resolved) from ``name`` and wait for ``expect`` messages per client."""
        client = self.clients[name]
        real = self.normalizer.resolve(event, self._token)
        if real.get("type") == "change_user":
            token = real.get("token")
            email = token_email(token) if isinstance(token, str) else None
            self._identity[name] = email
            client.token = token.removeprefix("Bearer ") if isinstance(token, str) and email else None
            client.email = email
        client.send(real)
        self._take(expect)

    def received(self, name: str) -> list[Any]:
        """What ``name`` received, normalised, after every message in flight has arrived."""
        if not self._settled:
            self._settle()
        return self._received[name]

    def _token(self, email: str) -> str:
        if email not in self._tokens:
            self._tokens[email] = self.factory.token(email)
        return self._tokens[email]

    def _take(self, expect: dict[str, int]) -> None:
        """Wait (up to the timeout) for the expected messages, then normalise what came, client by client."""
        for name, count in expect.items():
            client = self.clients.get(name)
            if client is None:
                continue
            with contextlib.suppress(TimeoutError):  # fewer came: received() shows the difference
                client.wait_inbox(self._seen[name] + count, timeout=self.timeout)
        for name, client in self.clients.items():
            self._normalise_new(name, client)

    def _normalise_new(self, name: str, client: Client, upto: int | None = None) -> None:
        inbox = client.inbox
        end = len(inbox) if upto is None else upto
        for message in inbox[self._seen[name] : end]:
            if message.kind == "connection" and isinstance(message.data, dict):
                self.normalizer.connection(
                    name, self._identity[name], client.requested_channel, message.data.get("data")
                )
            self._received[name].append(self.normalizer.received(message.data))
        self._seen[name] = max(self._seen[name], end)

    def _settle(self) -> None:
        """Ask each open client for its connection event: whatever was sent to it before is in by then."""
        from .client import ClientState

        self._settled = True
        for name, client in self.clients.items():
            if client.state is not ClientState.OPEN:
                self._normalise_new(name, client)
                continue
            mark = len(client.inbox)
            client.send({"type": "connection"})
            client.wait_for(lambda m: m.get("type") == "connection", timeout=self.timeout, since=mark)
            barrier = next(m.index for m in client.inbox[mark:] if m.type == "connection")
            self._normalise_new(name, client, upto=barrier)

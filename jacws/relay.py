"""Relays carry deliveries between processes: the interface, the wire form, and the in-process default.

A hub delivers every ``user``, ``channel`` and ``client`` message to its own connections
and also hands it to its relay, which publishes it to the other processes; each of them
delivers it to its own connections. A process ignores the copies of its own messages.
Without a relay URL the :class:`LocalRelay` is used: it publishes nothing, and no Redis
code is imported. With ``redis://`` the Redis pub/sub relay of :mod:`jacws.relay_redis`.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["LocalRelay", "Relay", "Relayed", "decode_relayed", "encode_relayed", "new_origin", "open_relay"]

KINDS = frozenset({"user", "channel", "client", "revoke"})


def new_origin() -> str:
    """A fresh id for this process's relay messages."""
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class Relayed:
    """One relayed delivery: what kind, to which ids, the serialised data, from which process."""

    kind: str
    ids: tuple[str, ...]
    data: bytes
    origin: str


def encode_relayed(message: Relayed) -> bytes:
    """The wire form: a JSON header line, then the data bytes exactly as they will be sent."""
    header = orjson.dumps({"k": message.kind, "i": list(message.ids), "o": message.origin})
    return header + b"\n" + message.data


def decode_relayed(payload: bytes) -> Relayed:
    """Parse the wire form.

    Raises:
        ValueError: the payload is not a relayed message.
    """
    header, separator, data = payload.partition(b"\n")
    if not separator:
        raise ValueError("not a relayed message: no header line")
    try:
        fields = orjson.loads(header)
        kind, ids, origin = fields["k"], fields["i"], fields["o"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise ValueError("not a relayed message: bad header") from None
    if kind not in KINDS or not isinstance(ids, list) or not isinstance(origin, str):
        raise ValueError("not a relayed message: bad header fields")
    return Relayed(kind, tuple(str(i) for i in ids), data, origin)


class Relay(ABC):
    """Publishes this process's deliveries and hands other processes' ones to ``deliver``."""

    def __init__(self, origin: str | None = None) -> None:
        self.origin = origin or new_origin()
        self._deliver: Callable[[Relayed], None] | None = None

    def bind(self, deliver: Callable[[Relayed], None]) -> None:
        """Set where messages from other processes go (the hub); called before :meth:`start`."""
        self._deliver = deliver

    def received(self, message: Relayed) -> None:
        """Deliver a message from the wire, unless this process sent it."""
        if message.origin != self.origin and self._deliver is not None:
            self._deliver(message)

    @abstractmethod
    async def start(self) -> None:
        """Begin relaying (on the server's loop)."""

    @abstractmethod
    def publish(self, kind: str, ids: Sequence[str], data: bytes) -> None:
        """Send a delivery to the other processes; never blocks, never raises for an outage."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop relaying and release connections."""

    @abstractmethod
    def status(self) -> dict[str, Any] | None:
        """The relay's state for ``/healthz`` (None for the local relay)."""


class LocalRelay(Relay):
    """One process only: nothing to publish, nothing to receive."""

    async def start(self) -> None:
        """Nothing to start."""

    def publish(self, kind: str, ids: Sequence[str], data: bytes) -> None:
        """Nothing to publish: the hub already delivered locally."""

    async def stop(self) -> None:
        """Nothing to stop."""

    def status(self) -> dict[str, Any] | None:
        """No relay state to report."""
        return None


def open_relay(url: str | None, origin: str | None = None) -> Relay:
    """The relay for ``url``: none for the local relay, ``redis://`` or ``rediss://`` for Redis.

    Raises:
        ValueError: a URL scheme no relay handles.
        ImportError: Redis is asked for but the ``redis`` package is missing.
    """
    if not url:
        return LocalRelay(origin)
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("redis", "rediss", "unix"):
        try:
            from .relay_redis import RedisRelay
        except ImportError as error:  # pragma: no cover - the extra is installed in tests
            raise ImportError('the Redis relay needs the redis package: pip install "jacws[redis]"') from error
        return RedisRelay(url, origin)
    raise ValueError(f"no relay for {scheme}:// URLs (use redis://HOST:PORT)")

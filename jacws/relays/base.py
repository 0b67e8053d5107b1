"""The relay interface and its wire form.

A hub delivers every ``user``, ``channel`` and ``client`` message to its own connections
and also hands it to its relay, which publishes it to the other processes; each of them
delivers it to its own connections. A process ignores the copies of its own messages. A relay
that routes by interest is told which channels, users and clients have members on this process
(:meth:`Relay.interest`), and sends it only their messages.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["Relay", "Relayed", "decode_relayed", "encode_relayed", "new_origin"]

KINDS = frozenset({"user", "channel", "client", "revoke", "presence"})


def new_origin() -> str:
    """A fresh id for this process's relay messages."""
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class Relayed:
    """One relayed delivery: what kind, to which ids, the serialised data, from which process (its
    ``number``-th message)."""

    kind: str
    ids: tuple[str, ...]
    data: bytes
    origin: str
    number: int = 0
    channel: str = ""
    """With a shared history: the channel this copy numbers (one copy per target channel)."""
    offset: int = 0
    """With a shared history: the copy's offset in ``channel``."""


def encode_relayed(message: Relayed) -> bytes:
    """The wire form: a JSON header line, then the data bytes exactly as they will be sent."""
    header = orjson.dumps({"k": message.kind, "i": list(message.ids), "o": message.origin, "n": message.number})
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
        kind, ids, origin, number = fields["k"], fields["i"], fields["o"], fields.get("n", 0)
        channel, offset = fields.get("c", ""), fields.get("f", 0)
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise ValueError("not a relayed message: bad header") from None
    if kind not in KINDS or not isinstance(ids, list) or not isinstance(origin, str) or not isinstance(number, int):
        raise ValueError("not a relayed message: bad header fields")
    if not isinstance(channel, str) or not isinstance(offset, int):
        raise ValueError("not a relayed message: bad offset fields")
    return Relayed(kind, tuple(str(i) for i in ids), data, origin, number, channel, offset)


class Relay(ABC):
    """Publishes this process's deliveries and hands other processes' ones to ``deliver``."""

    routes_by_interest = False
    """Whether :meth:`interest` matters (the hub then tells it of every first arrival and last departure)."""
    shares_presence = False
    """Whether channel members are kept where every process sees them (:meth:`presence_members`)."""
    shares_history = False
    """Whether channel messages are numbered and kept where every process sees them (:meth:`history_between`);
    its copies then carry the offsets, and reach their own process too."""

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

    def interest(self, kind: str, key: str, wanted: bool) -> None:
        """The first member of ``kind`` (``channel``, ``user``, ``client``; ``watch``: of a channel's watchers)
        ``key`` arrived here, or the last left."""
        return  # a relay that sends every process everything has nothing to do

    async def hold(self, keys: Iterable[tuple[str, str]]) -> Callable[[], None]:
        """Make sure messages for ``keys`` reach this process before a member of them is served; the returned
        call lets go of the hold once the members hold their own interest. Nothing to do by default."""
        return _nothing

    def presence_added(self, channel_id: str, client_id: str, root_id: str) -> None:
        """A connection of this process came onto a channel (kept for the other processes to see)."""
        return

    def presence_removed(self, channel_id: str, client_id: str) -> None:
        """A connection of this process left a channel."""
        return

    async def history_between(
        self, channel_id: str, since: int, until: int | None
    ) -> tuple[list[tuple[int, bytes]], int, bool]:
        """The channel's kept messages after ``since`` up to ``until`` (None: the latest), the offset reached,
        and whether none was missing."""
        return [], since, True

    async def presence_members(self, channel_id: str) -> list[dict[str, str]]:
        """The members of a channel on the other live processes (``client_id``, ``root_id``); none by default."""
        return []

    async def presence_sweep(self, channel_ids: Iterable[str]) -> list[tuple[str, str, str]]:
        """Forget the members, on these channels, of processes that stopped without saying so; those this
        process forgot (``channel_id``, ``client_id``, ``root_id``), each reported by one process only."""
        return []

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


def _nothing() -> None:
    """Nothing to let go of."""

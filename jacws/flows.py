"""One arrow of the flow view: a :class:`Flow` between two lanes, a received message's :class:`Route`, and the
words both are labelled with. No state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from .inbox import Message
from .trace import Cause

__all__ = ["KINDS", "SERVER", "TEXT_LIMIT", "Flow", "Route", "SendRecord"]

SERVER = "server"
"""The lane of the server (answers, and notifications from walkers, REST calls or the server itself)."""

TEXT_LIMIT = 2000
"""Characters of a message's JSON kept with its flow (shown whole on hover)."""

KINDS = (
    "walker",
    "channel",
    "user",
    "client",
    "self",
    "response",
    "error",
    "connection",
    "change_user",
    "notification",
)
"""Every kind of flow, in the protocol's own words; ``notification`` is one whose route is unknown."""


class Route(NamedTuple):
    """How a received message reached its client: ``kind`` (a protocol word) and a readable ``text``."""

    kind: str
    text: str
    sender: str = SERVER
    latency: float | None = None


class Flow(NamedTuple):
    """One arrow: ``source`` lane to ``target`` lane.

    Attributes:
        seq: order of recording (sends are recorded before they leave).
        at: wall-clock seconds.
        kind: one of :data:`KINDS` (a send's event type, or a receipt's route).
        label: a short text for the arrow.
        route: how it travelled, in words (``"channel lobby"``, ``"walker greet (alice)"``).
        cause: the ``seq`` of the send that caused a receipt, when known.
        latency: seconds from that send to this receipt.
        text: the whole message as JSON (cut at :data:`TEXT_LIMIT` characters).
    """

    seq: int
    at: float
    source: str
    target: str
    kind: str
    label: str
    route: str = ""
    cause: int | None = None
    latency: float | None = None
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The flow as plain JSON values (what the flow view's front end draws)."""
        return self._asdict()


@dataclass(frozen=True)
class SendRecord:
    """A send a receipt may answer: its flow's ``seq``, when, who, the event."""

    seq: int
    at: float
    sender: str
    event: dict[str, Any]


def as_json(data: Any, limit: int = TEXT_LIMIT) -> str:
    text = orjson.dumps(data).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_label(data: Any, limit: int = 40) -> str:
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) and kind else as_json(data, limit)


def plain_route(message: Message) -> Route:
    """What a message says about its route by itself."""
    kind = message.kind
    if kind == "connection":
        return Route("connection", "connection")
    if kind == "response":
        return Route("response", "walker answer")
    if kind == "error":
        return Route("error", "error")
    return Route("notification", "from the server")


def answer_label(message: Message) -> str:
    """The arrow label of a connection event, walker answer or error."""
    data = message.data
    if message.kind == "response" and isinstance(data.get("reports"), list):
        return f"reports ({len(data['reports'])})"
    if message.kind == "error":
        return f"error {data.get('code')}"
    return short_label(data)


def answer_words(kind: str, send: SendRecord | None) -> str:
    """How to name an answer to one of the receiving socket's own events (or to its connecting)."""
    if send is None:
        return "on connecting" if kind == "connection" else f"answer to an event of {kind}"
    event_type = send.event.get("type")
    if event_type == "walker":
        return f"walker {send.event.get('walker')}"
    return f"answer to {event_type}"


def origin_words(cause: Cause, lane: str | None) -> str:
    """Who started a message the server sent on its own account."""
    if cause.origin == "walker":
        return f"walker {cause.walker}" + (f" ({lane})" if lane else "")
    if cause.origin == "rest":
        return f"REST walker {cause.walker}"
    return "server"

"""A card's timeline: what one sent or received event shows as a line, and what a card keeps of it."""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

from ..flows import KINDS
from ..inbox import Sent

__all__ = ["Entry", "Item", "one_line", "progress_of", "sent_kind"]


def sent_kind(sent: Sent) -> str:
    """The kind a sent event is filtered and coloured by (its type, or ``notification``)."""
    kind = str(sent.event.get("type"))
    return kind if kind in KINDS else "notification"


def progress_of(data: Any) -> dict[str, Any] | None:
    """A progress bar's value (0-100) and status from a message with ``progress``, else None."""
    if not isinstance(data, dict) or "progress" not in data:
        return None
    try:
        value = float(str(data["progress"]).strip().rstrip("%"))
    except ValueError:
        return None
    return {"value": max(0.0, min(100.0, value)), "status": str(data.get("status", ""))}


def one_line(data: Any, limit: int = 80) -> str:
    """A message in one line: its ``type``, then the rest of it as compact JSON."""
    if isinstance(data, dict) and isinstance(data.get("type"), str):
        rest = {key: value for key, value in data.items() if key != "type"}
        text = str(data["type"]) + (" " + orjson.dumps(rest).decode() if rest else "")
    else:
        text = orjson.dumps(data).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Entry(NamedTuple):
    """One line of a card's timeline, as the browser shows it."""

    key: str
    out: bool
    at: float
    kind: str
    label: str
    route: str
    text: str
    latency: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The line as the browser takes it (latency in milliseconds)."""
        return {
            "key": self.key,
            "dir": "out" if self.out else "in",
            "at": self.at,
            "kind": self.kind,
            "label": self.label,
            "route": self.route,
            "text": self.text,
            "latency": None if self.latency is None else round(self.latency * 1000, 3),
        }


class Item(NamedTuple):
    """One event of a card's timeline as kept: what it is, and its kind for the filters; shown lazily."""

    out: bool
    item: Any  # a Sent or a Message
    kind: str

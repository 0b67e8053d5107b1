"""Stable names for what differs between two runs of one session: ids, tokens and times.

A recorded session and its replay against a fresh server see different client ids, root
ids, node ids, tokens and clock readings. A :class:`Normalizer` turns each into a
placeholder that is the same in both runs, so the two can be compared with ``==``:

- a client's ids, learnt from its connection events: ``<client alice>`` (``<client alice #2>``
  after a reconnect), ``<root alice@example.com>``, ``<channel alice>`` for a random channel;
- walker request ids: ``<call 1>``, ``<call 2>``, ... in the order they were sent;
- node and edge ids: ``<node 1>``, ``<edge 1>``, ... in the order they first appear;
- tokens: ``<token alice@example.com>``; times (epoch seconds or milliseconds, ISO 8601): ``<time>``.

The public root's id is the same on every server and stays as it is. Placeholders numbered
by first appearance match as long as both runs see the same messages in the same order,
which is what a replay checks. No I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jwt

from .protocol import PUBLIC_ROOT_ID

__all__ = ["Normalizer", "token_email"]

_GRAPH_ID = re.compile(r"\b([ne])::[0-9a-f]{24}(?:[0-9a-f]{8})?\b")
_CLIENT_ID = re.compile(r"\b\d{10}:[0-9a-f]{32}\b")
_TOKEN = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_ISO_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_PLACEHOLDER = re.compile(r"<(?:node|edge|client|root|channel|call|token|other client) [^<>]*>")
TIME = "<time>"


def token_email(token: str | None) -> str | None:
    """The ``email`` a jacws token names (read without checking its signature), or None."""
    if not token:
        return None
    try:
        claims = jwt.decode(token.removeprefix("Bearer "), options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    email = claims.get("email")
    return email if isinstance(email, str) and email else None


def _is_time(value: float) -> bool:
    """Epoch seconds (2001 to 2286) or milliseconds: a clock reading, not data."""
    return 1e9 <= value < 1e10 or 1e12 <= value < 1e13


class Normalizer:
    """Placeholders for one run's ids, tokens and times; :meth:`resolve` turns them back."""

    def __init__(self) -> None:
        self._labels: dict[str, str] = {}  # real value -> placeholder
        self._values: dict[str, str] = {}  # placeholder -> real value
        self._counts: dict[str, int] = {}

    def _learn(self, value: str, label: str) -> str:
        known = self._labels.get(value)
        if known is not None:
            return known
        self._labels[value] = label
        self._values.setdefault(label, value)
        return label

    def _numbered(self, kind: str, value: str) -> str:
        known = self._labels.get(value)
        if known is not None:
            return known
        self._counts[kind] = self._counts.get(kind, 0) + 1
        return self._learn(value, f"<{kind} {self._counts[kind]}>")

    def connection(self, client: str, email: str | None, requested_channel: str | None, data: Any) -> None:
        """Learn the ids of a connection event's ``data`` for ``client``, connected as ``email``."""
        if not isinstance(data, dict):
            return
        client_id, root_id, channel_id = data.get("client_id"), data.get("root_id"), data.get("channel_id")
        if isinstance(client_id, str) and client_id not in self._labels:
            key = f"connects of {client}"
            self._counts[key] = connects = self._counts.get(key, 0) + 1
            self._learn(client_id, f"<client {client}>" if connects == 1 else f"<client {client} #{connects}>")
        if isinstance(root_id, str) and root_id != PUBLIC_ROOT_ID:
            self._learn(root_id, f"<root {email or client}>")
        if isinstance(channel_id, str) and channel_id != requested_channel:
            self._learn(channel_id, f"<channel {client}>")

    def call(self, request_id: str) -> str:
        """The placeholder of a walker call's request id (``<call N>`` in sending order)."""
        return self._numbered("call", request_id)

    def received(self, data: Any) -> Any:
        """``data`` with every id, token and time replaced (new node and edge ids get the next number)."""
        return self._walk(data, learn=True)

    def sent(self, data: Any) -> Any:
        """``data`` with known ids, tokens and times replaced (an id nobody received stays as it is)."""
        return self._walk(data, learn=False)

    def resolve(self, data: Any, token_for: Callable[[str], str]) -> Any:
        """``data`` with placeholders turned into this run's values; ``token_for(email)`` gives tokens.

        Raises:
            KeyError: a placeholder this run has not seen (the session went differently).
        """

        def real(match: re.Match[str]) -> str:
            label = match.group(0)
            if label.startswith("<token "):
                return token_for(label[len("<token ") : -1])
            if label.startswith("<call "):
                return label  # any text does as a request id: the answer echoes it
            if label not in self._values:
                raise KeyError(f"{label} was not received before it was sent in this run")
            return self._values[label]

        def walk(value: Any) -> Any:
            if isinstance(value, str):
                return _PLACEHOLDER.sub(real, value)
            if isinstance(value, list):
                return [walk(v) for v in value]
            if isinstance(value, dict):
                return {walk(k): walk(v) for k, v in value.items()}
            return value

        return walk(data)

    def _walk(self, value: Any, learn: bool) -> Any:
        if isinstance(value, str):
            return self._text(value, learn)
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (int, float)):
            return TIME if _is_time(value) else value
        if isinstance(value, list):
            return [self._walk(v, learn) for v in value]
        if isinstance(value, dict):
            return {self._text(k, learn): self._walk(v, learn) for k, v in value.items()}
        return value

    def _text(self, text: str, learn: bool) -> str:
        known = self._labels.get(text)
        if known is not None:
            return known
        if text.startswith("<") and _PLACEHOLDER.fullmatch(text):
            return text

        def graph_id(match: re.Match[str]) -> str:
            value = match.group(0)
            if value == PUBLIC_ROOT_ID or value in self._labels or not learn:
                return self._labels.get(value, value)
            return self._numbered("node" if match.group(1) == "n" else "edge", value)

        def client_id(match: re.Match[str]) -> str:
            value = match.group(0)
            if value in self._labels or not learn:
                return self._labels.get(value, value)
            return self._numbered("other client", value)

        def token(match: re.Match[str]) -> str:
            email = token_email(match.group(0))
            return f"<token {email}>" if email else "<token>"

        text = _GRAPH_ID.sub(graph_id, text)
        text = _CLIENT_ID.sub(client_id, text)
        text = _TOKEN.sub(token, text)
        return _ISO_TIME.sub(TIME, text)

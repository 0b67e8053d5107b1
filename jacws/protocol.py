"""The wire protocol without I/O: id formats, client events, server messages.

A frame (text or binary) goes in, a typed event comes out or a :class:`ClientError`
is raised; server messages are serialised once with orjson and the same text is sent
to every recipient.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from .errors import ClientError, EventError, InvalidEvent, InvalidJSON, TooLarge

__all__ = [
    "PUBLIC_ROOT_ID",
    "ChangeUserEvent",
    "ChannelEvent",
    "ClientEvent",
    "JoinEvent",
    "LeaveEvent",
    "PresenceEvent",
    "RecoverEvent",
    "ConnectionEvent",
    "Event",
    "UserEvent",
    "WalkerEvent",
    "connection_message",
    "encode",
    "new_channel_id",
    "new_client_id",
    "new_edge_id",
    "new_node_id",
    "normalize_node_id",
    "parse_event",
    "walker_response",
    "channels_message",
    "presence_message",
    "presence_change",
    "channel_message",
    "recovered_message",
]

PUBLIC_ROOT_ID = "n::000000000000000000000001"
"""The root shared by every anonymous connection."""

_NODE_ID = re.compile(r"(?:n::)?([0-9a-f]{24})")


def new_client_id() -> str:
    """A fresh ``"<unix seconds>:<32 hex>"`` id, the form of client and random channel ids."""
    return f"{int(time.time())}:{secrets.token_hex(16)}"


new_channel_id = new_client_id


def new_node_id() -> str:
    """A fresh ``"n::<24 hex>"`` node (and root) id."""
    return "n::" + secrets.token_hex(12)


def new_edge_id() -> str:
    """A fresh ``"e::<24 hex>"`` edge id."""
    return "e::" + secrets.token_hex(12)


def normalize_node_id(value: object) -> str:
    """Return ``value`` as an ``n::<24 hex>`` id.

    Raises:
        ValueError: ``value`` is neither the ``n::`` form nor the bare 24-hex form.
    """
    match = _NODE_ID.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"not a node id: {value!r:.80}")
    return "n::" + match.group(1)


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    """``{"type": "connection"}``: re-send the connection event."""


@dataclass(frozen=True, slots=True)
class WalkerEvent:
    """``{"type": "walker", ...}``: run a walker on the caller's root or a node."""

    walker: str
    context: dict[str, Any] = field(default_factory=dict)
    response: bool = False
    node: str | None = None
    id: Any = None


@dataclass(frozen=True, slots=True)
class UserEvent:
    """``{"type": "user", "root_ids": [...], "data": {...}}``."""

    root_ids: tuple[str, ...]
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """``{"type": "channel", "channel_ids": [...], "data": {...}}``."""

    channel_ids: tuple[str, ...]
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """``{"type": "client", "client_ids": [...], "data": {...}}``."""

    client_ids: tuple[str, ...]
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChangeUserEvent:
    """``{"type": "change_user", "token": ...}``: become that user, or the public one."""

    token: str | None = None


@dataclass(frozen=True, slots=True)
class JoinEvent:
    """``{"type": "join", "channel_ids": [...]}`` (extension): be on these channels too; with ``presence: true``,
    be told of their members' arrivals and departures."""

    channel_ids: tuple[str, ...]
    id: Any = None
    presence: bool = False


@dataclass(frozen=True, slots=True)
class LeaveEvent:
    """``{"type": "leave", "channel_ids": [...]}`` (extension): be on these channels no more."""

    channel_ids: tuple[str, ...]
    id: Any = None


@dataclass(frozen=True, slots=True)
class PresenceEvent:
    """``{"type": "presence", "channel_id": "x"}`` (extension): who is on that channel, on every process."""

    channel_id: str
    id: Any = None


@dataclass(frozen=True, slots=True)
class RecoverEvent:
    """``{"type": "recover", "channel_id": "x", "since": 41}`` (extension): the channel's messages after offset
    ``since`` that this connection missed."""

    channel_id: str
    since: int
    id: Any = None


Event = (
    RecoverEvent
    | ConnectionEvent
    | WalkerEvent
    | UserEvent
    | ChannelEvent
    | ClientEvent
    | ChangeUserEvent
    | JoinEvent
    | LeaveEvent
    | PresenceEvent
)


class _Checker:
    """Collects field errors of one event as ``{"loc": [...], "msg": ...}`` entries."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.details: list[dict[str, Any]] = []

    def fail(self, loc: list[Any], msg: str) -> None:
        self.details.append({"loc": loc, "msg": msg})

    def data(self) -> dict[str, Any]:
        value = self.raw.get("data")
        if not isinstance(value, dict):
            self.fail(["data"], "field required" if value is None else "must be an object")
            return {}
        return value

    def ids(self, name: str, max_ids: int, as_root: bool = False) -> tuple[str, ...]:
        value = self.raw.get(name)
        if not isinstance(value, list):
            self.fail([name], "field required" if value is None else "must be a list of strings")
            return ()
        if not value:
            self.fail([name], "must not be empty")
            return ()
        if len(value) > max_ids:
            raise TooLarge(f"{name} has {len(value)} ids; the limit is {max_ids}")
        ids: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.fail([name, index], "must be a string")
            elif as_root:
                try:
                    ids.append(normalize_node_id(item))
                except ValueError:
                    self.fail([name, index], "not a root id (n::<24 hex> or <24 hex>)")
            else:
                ids.append(item)
        return tuple(dict.fromkeys(ids))

    def done(self, kind: str) -> None:
        if self.details:
            raise InvalidEvent(f"invalid {kind} event", self.details)


def _request_id(raw: dict[str, Any]) -> Any:
    value = raw.get("id")
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return value
    return None


MAX_DEPTH = 128
"""How deep a client frame may nest arrays and objects (orjson re-encodes no deeper than 254 levels)."""


def too_deep(frame: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether ``frame`` (JSON text) nests arrays and objects more than ``limit`` levels deep.

    A frame with fewer brackets than the limit cannot be that deep, and counting them is done in C:
    only the rare frame with many is scanned, once, outside strings.
    """
    if isinstance(frame, str):
        if frame.count("[") + frame.count("{") <= limit:
            return False
        text = frame
    else:
        if frame.count(b"[") + frame.count(b"{") <= limit:
            return False
        text = frame.decode("utf-8", "replace")
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def parse_event(frame: str | bytes, max_ids: int = 1000, max_depth: int = MAX_DEPTH) -> Event:
    """Parse one client frame into an event.

    Args:
        frame: the text or binary frame's payload (UTF-8 JSON).
        max_ids: the most ids one user, channel or client event may name.
        max_depth: how deep arrays and objects may nest (``too_large`` past it).

    Raises:
        EventError: wrapping invalid_json, invalid_event or too_large, with the
            ``type`` and ``id`` the answer must carry.
    """
    if too_deep(frame, max_depth):
        raise EventError(TooLarge(f"the event nests arrays and objects more than {max_depth} levels deep"))
    try:
        raw = orjson.loads(frame)
    except orjson.JSONDecodeError:
        raise EventError(InvalidJSON("frame is not valid UTF-8 JSON")) from None
    if not isinstance(raw, dict):
        raise EventError(InvalidEvent("event must be a JSON object", [{"loc": [], "msg": "must be an object"}]))
    kind = raw.get("type")
    try:
        return _parse_object(raw, kind, max_ids)
    except ClientError as error:
        if kind == "walker":
            raise EventError(error, "walker", _request_id(raw)) from None
        if kind in ("join", "leave", "presence", "recover"):
            raise EventError(error, "error", _request_id(raw)) from None
        raise EventError(error) from None


def _parse_object(raw: dict[str, Any], kind: Any, max_ids: int) -> Event:
    check = _Checker(raw)
    if kind == "channel":
        channel_ids = check.ids("channel_ids", max_ids)
        data = check.data()
        check.done("channel")
        return ChannelEvent(channel_ids, data)
    if kind == "walker":
        return _parse_walker(raw, check)
    if kind == "user":
        root_ids = check.ids("root_ids", max_ids, as_root=True)
        data = check.data()
        check.done("user")
        return UserEvent(root_ids, data)
    if kind == "client":
        client_ids = check.ids("client_ids", max_ids)
        data = check.data()
        check.done("client")
        return ClientEvent(client_ids, data)
    if kind == "connection":
        return ConnectionEvent()
    if kind == "change_user":
        token = raw.get("token")
        if token is not None and not isinstance(token, str):
            check.fail(["token"], "must be a string or null")
        check.done("change_user")
        return ChangeUserEvent(token or None)
    if kind == "join" or kind == "leave":
        channel_ids = check.ids("channel_ids", max_ids)
        if raw.get("id") is not None and _request_id(raw) is None:
            check.fail(["id"], "must be a string or a number")
        presence = raw.get("presence", False)
        if kind == "join" and not isinstance(presence, bool):
            check.fail(["presence"], "must be a boolean")
        check.done(kind)
        if kind == "join":
            return JoinEvent(channel_ids, _request_id(raw), presence is True)
        return LeaveEvent(channel_ids, _request_id(raw))
    if kind == "presence" or kind == "recover":
        channel_id = raw.get("channel_id")
        if not isinstance(channel_id, str) or not channel_id:
            check.fail(["channel_id"], "field required" if channel_id is None else "must be a non-empty string")
        if raw.get("id") is not None and _request_id(raw) is None:
            check.fail(["id"], "must be a string or a number")
        since = raw.get("since")
        if kind == "recover" and (not isinstance(since, int) or isinstance(since, bool) or since < 0):
            check.fail(["since"], "field required" if since is None else "must be an offset (an integer, 0 or more)")
        check.done(kind)
        if kind == "recover":
            return RecoverEvent(str(channel_id), int(since), _request_id(raw))  # type: ignore[arg-type]
        return PresenceEvent(str(channel_id), _request_id(raw))
    if kind is None:
        raise InvalidEvent("event has no type", [{"loc": ["type"], "msg": "field required"}])
    allowed = "connection, walker, user, channel, client, change_user, join, leave, presence, recover"
    raise InvalidEvent(
        f"unknown event type {str(kind)[:40]!r}",
        [{"loc": ["type"], "msg": f"must be one of {allowed}"}],
    )


def _parse_walker(raw: dict[str, Any], check: _Checker) -> WalkerEvent:
    name = raw.get("walker")
    if not isinstance(name, str) or not name:
        check.fail(["walker"], "field required" if name is None else "must be a non-empty string")
    context = raw.get("context", {})
    if context is None:
        context = {}
    if not isinstance(context, dict):
        check.fail(["context"], "must be an object")
    response = raw.get("response", False)
    if response is None:
        response = False
    if not isinstance(response, bool):
        check.fail(["response"], "must be a boolean")
    node = raw.get("node")
    if node is not None:
        try:
            node = normalize_node_id(node)
        except ValueError:
            check.fail(["node"], "not a node id (n::<24 hex> or <24 hex>)")
    request_id = raw.get("id")
    if request_id is not None and _request_id(raw) is None:
        check.fail(["id"], "must be a string or a number")
    check.done("walker")
    return WalkerEvent(str(name), context, bool(response), node, request_id)


def _default(value: Any) -> Any:
    to_wire = getattr(value, "__jacws_json__", None)
    if to_wire is not None:
        return to_wire()
    model_dump = getattr(value, "model_dump", None)
    if model_dump is not None:
        return model_dump(mode="json")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(message: Any) -> bytes:
    """Serialise a server message once (UTF-8 JSON); the same bytes go to every recipient.

    Raises:
        TypeError: ``message`` holds a value JSON cannot represent.
    """
    return orjson.dumps(message, default=_default, option=orjson.OPT_NON_STR_KEYS)


def connection_message(client_id: str, root_id: str, channel_id: str) -> dict[str, Any]:
    """The connection event a socket receives first and after ``connection``/``change_user``."""
    return {"type": "connection", "data": {"client_id": client_id, "root_id": root_id, "channel_id": channel_id}}


def channels_message(channel_ids: Any, request_id: Any = None) -> dict[str, Any]:
    """The answer to ``join`` and ``leave`` (extension): every channel the connection is on, in joining order."""
    message: dict[str, Any] = {"type": "channels", "channel_ids": list(channel_ids)}
    if request_id is not None:
        message["id"] = request_id
    return message


def presence_message(channel_id: str, members: list[dict[str, str]], request_id: Any = None) -> dict[str, Any]:
    """The answer to ``presence`` (extension): every member of the channel, ``{"client_id", "root_id"}`` each."""
    message: dict[str, Any] = {"type": "presence", "channel_id": channel_id, "members": members}
    if request_id is not None:
        message["id"] = request_id
    return message


def presence_change(joined: bool, channel_id: str, client_id: str, root_id: str) -> dict[str, Any]:
    """``presence_join`` or ``presence_leave`` (extension), sent to the channel's members that asked for them."""
    kind = "presence_join" if joined else "presence_leave"
    return {"type": kind, "channel_id": channel_id, "client_id": client_id, "root_id": root_id}


def channel_message(channel_id: str, offset: int, data: bytes) -> bytes:
    """A channel message with its offset (extension, for ``?offsets=1`` connections), around the data as sent."""
    return b'{"type":"channel_message","channel_id":%b,"offset":%d,"data":%b}' % (encode(channel_id), offset, data)


def recovered_message(channel_id: str, offset: int, complete: bool, request_id: Any = None) -> dict[str, Any]:
    """The end of a ``recover`` answer (extension): the offset reached, and whether nothing was missing."""
    message: dict[str, Any] = {"type": "recovered", "channel_id": channel_id, "offset": offset, "complete": complete}
    if request_id is not None:
        message["id"] = request_id
    return message


def walker_response(reports: Any, request_id: Any = None) -> dict[str, Any]:
    """The answer to a walker event with ``response: true`` (and to a REST call)."""
    message: dict[str, Any] = {"status": 200, "reports": reports}
    if request_id is not None:
        message["id"] = request_id
    return message

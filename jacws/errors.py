"""Every error jacws raises, and the wire codes clients see.

The tree::

    JacWSError                     base of everything raised by jacws
    ├── ClientError                sent to a client as {"error", "code", ...}
    │   ├── InvalidJSON            invalid_json: the frame is not JSON
    │   ├── InvalidEvent           invalid_event: not an object, unknown type, bad fields
    │   ├── UnknownWalker          unknown_walker: no such walker for this transport
    │   ├── AuthRequired           auth_required: the walker needs a logged-in user
    │   ├── Forbidden              forbidden: no access to a node or a publish target
    │   ├── WalkerFailed           walker_error: the walker raised
    │   ├── RateLimited            rate_limited: too many messages or queued walker events
    │   ├── TooLarge               too_large: too many ids in one event, or nested too deep
    │   └── InternalError          internal_error: a bug in jacws (logged; the connection stays open)
    ├── SpecsError                 a walker's ``__specs__`` is wrong (raised at class creation)
    ├── UserExists                 registering an email twice
    ├── ServerBusy                 unavailable (HTTP 503): too many password checks at once
    ├── InvalidToken               a JWT that is malformed, expired, revoked or forged
    ├── InvalidTarget              a notify call named a malformed root id
    ├── NotInWalker                ``socket.notify_*`` called outside a running walker
    └── ServerError                the in-notebook server could not start or stop
        └── PortInUse              the requested port is taken

Errors sent to clients are always built from these classes, never from a traceback.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthRequired",
    "ClientError",
    "Forbidden",
    "InternalError",
    "InvalidEvent",
    "InvalidJSON",
    "InvalidTarget",
    "InvalidTransition",
    "InvalidToken",
    "JacWSError",
    "NotInWalker",
    "PortInUse",
    "RateLimited",
    "ServerBusy",
    "ServerError",
    "SpecsError",
    "TooLarge",
    "UnknownWalker",
    "UserExists",
    "WalkerFailed",
]


class JacWSError(Exception):
    """Base class of every error raised by jacws."""


class ClientError(JacWSError):
    """An error that is answered to a client with a wire ``code``.

    Args:
        message: the human-readable message sent as ``error``.
        details: optional ``[{"loc": [...], "msg": "..."}]`` entries.
    """

    code = "error"
    http_status = 400

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_wire(self, kind: str = "error", request_id: Any = None) -> dict[str, Any]:
        """The error as the single wire shape of PROTOCOL.md."""
        wire: dict[str, Any] = {"type": kind, "error": self.message, "code": self.code}
        if self.details:
            wire["details"] = self.details
        if request_id is not None:
            wire["id"] = request_id
        return wire


class InvalidJSON(ClientError):
    """The frame is not valid UTF-8 JSON."""

    code = "invalid_json"


class InvalidEvent(ClientError):
    """The event is not an object, has an unknown type, or missing or wrong fields."""

    code = "invalid_event"
    http_status = 422


class UnknownWalker(ClientError):
    """No walker of that name is served over this transport."""

    code = "unknown_walker"
    http_status = 404


class AuthRequired(ClientError):
    """The walker requires a logged-in user."""

    code = "auth_required"
    http_status = 401


class Forbidden(ClientError):
    """The caller has no access to the target node or publish target."""

    code = "forbidden"
    http_status = 403


class WalkerFailed(ClientError):
    """A walker raised; the message names the exception type only."""

    code = "walker_error"
    http_status = 500


class RateLimited(ClientError):
    """The connection sends faster than its rate limit."""

    code = "rate_limited"
    http_status = 429


class TooLarge(ClientError):
    """An event names more ids than the limit allows, or nests arrays and objects too deep."""

    code = "too_large"
    http_status = 413


class InternalError(ClientError):
    """jacws itself failed on this message; the details are in the server log, never on the wire."""

    code = "internal_error"
    http_status = 500


class SpecsError(JacWSError, TypeError):
    """A walker's ``__specs__`` has an unknown name or a wrong value."""


class UserExists(JacWSError):
    """A user with this email is already registered."""


class ServerBusy(JacWSError):
    """Too much of one kind of work is waiting already (password checks): try again in a moment."""


class InvalidToken(JacWSError):
    """A token that is malformed, expired, revoked or not signed by this server."""


class InvalidTarget(JacWSError, ValueError):
    """A ``notify_users`` call named something that is not a root id."""


class NotInWalker(JacWSError, RuntimeError):
    """``socket.notify_*`` was called outside a running walker."""


class InvalidTransition(JacWSError, RuntimeError):
    """A connection was asked to move to a state it cannot reach from its own (a bug of jacws's)."""


class ServerError(JacWSError, RuntimeError):
    """The in-notebook server could not start or stop."""


class PortInUse(ServerError):
    """The requested port is already taken by another program."""

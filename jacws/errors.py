"""Every error jacws raises, and the wire codes clients see.

The tree::

    JacWSError                     base of everything raised by jacws
    ├── ClientError                sent to a client as {"error", "code", ...}
    │   ├── InvalidJSON            invalid_json: the frame is not JSON
    │   ├── InvalidEvent           invalid_event: not an object, unknown type, bad fields (HTTP 422)
    │   ├── UnknownWalker          unknown_walker: no such walker for this transport (HTTP 404)
    │   ├── FilesNeedRest          files_need_rest: a walker with file fields, called over the socket
    │   ├── AuthRequired           auth_required: the walker needs a logged-in user (HTTP 401)
    │   ├── Forbidden              forbidden: no access to a node or a publish target (HTTP 403)
    │   ├── WalkerFailed           walker_error: the walker raised or ran out of time (HTTP 500)
    │   ├── RateLimited            rate_limited: too many messages, walkers or failed logins (HTTP 429)
    │   ├── TooLarge               too_large: too many ids in one event, or nested too deep
    │   ├── InternalError          internal_error: a bug in jacws (logged; the connection stays open)
    │   ├── UserExists             user_exists: registering an email twice (HTTP 409)
    │   ├── InvalidCredentials     invalid_credentials: a wrong email or password (HTTP 400)
    │   ├── MethodNotAllowed       method_not_allowed: an HTTP method the walker's specs do not list (405)
    │   └── ServerBusy             unavailable: too much of one kind of work waiting (HTTP 503)
    ├── EventError                 a ClientError with how to answer it on the socket (type and id)
    ├── SpecsError                 a walker's ``__specs__`` is wrong (raised at class creation)
    ├── InvalidToken               a JWT that is malformed, expired, revoked or forged
    ├── InvalidTarget              a notify call named a malformed root id
    ├── NotInWalker                ``socket.notify_*`` called outside a running walker
    ├── WalkerTimedOut             a walk ran past its time limit (answered as WalkerFailed)
    ├── WalkerAbandoned            nobody waits for a Jac walk any more: its changes are dropped
    ├── InvalidTransition          a connection asked to move to a state it cannot reach (a bug)
    ├── ClientClosed               a simulated client is not connected
    ├── JacUnavailable             jaclang is not installed (an ImportError too)
    ├── JacLoadError               a .jac file does not compile or declares no walker
    ├── SourceUnavailable          a walker's source cannot be copied into a generated test
    └── ServerError                the in-notebook server could not start or stop
        └── PortInUse              the requested port is taken

Errors sent to clients are always built from these classes, never from a traceback.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthRequired",
    "ClientClosed",
    "ClientError",
    "EventError",
    "InvalidCredentials",
    "JacLoadError",
    "JacUnavailable",
    "FilesNeedRest",
    "MethodNotAllowed",
    "SourceUnavailable",
    "WalkerAbandoned",
    "WalkerTimedOut",
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

    jac_message: str | None = None
    """jac-cloud's own ``message`` for this error over HTTP, where jac-cloud clients read one."""

    def to_wire(self, kind: str = "error", request_id: Any = None) -> dict[str, Any]:
        """The error as the single wire shape of PROTOCOL.md."""
        wire: dict[str, Any] = {"type": kind, "error": self.message, "code": self.code}
        if self.details:
            wire["details"] = self.details
        if request_id is not None:
            wire["id"] = request_id
        return wire

    def to_http(self) -> dict[str, Any]:
        """The body of an HTTP answer: ``error`` and ``code`` (and jac-cloud's ``message`` where it has one)."""
        body: dict[str, Any] = {"message": self.jac_message} if self.jac_message else {}
        body.update(error=self.message, code=self.code)
        return body


class InvalidJSON(ClientError):
    """The frame is not valid UTF-8 JSON."""

    code = "invalid_json"


class TooManyChannels(ClientError):
    """A ``join`` would put the connection on more channels than ``max_channels_per_connection``."""

    code = "too_many_channels"


class InvalidEvent(ClientError):
    """The event is not an object, has an unknown type, or missing or wrong fields."""

    code = "invalid_event"
    http_status = 422


class FilesNeedRest(ClientError):
    """A walker with file fields was called over the socket: files travel over REST only."""

    code = "files_need_rest"


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


class UserExists(ClientError):
    """A user with this email is already registered."""

    code = "user_exists"
    http_status = 409
    jac_message = "Email already registered!"

    def __init__(self, message: str = "email already registered") -> None:
        super().__init__(message)


class InvalidCredentials(ClientError):
    """A login with an unknown email or a wrong password (which of the two is not said)."""

    code = "invalid_credentials"
    http_status = 400
    jac_message = "Invalid Email/Password!"

    def __init__(self, message: str = "invalid email or password") -> None:
        super().__init__(message)


class MethodNotAllowed(ClientError):
    """A REST call with an HTTP method the walker's specs do not list."""

    code = "method_not_allowed"
    http_status = 405


class ServerBusy(ClientError):
    """Too much of one kind of work is waiting already (password checks, walker runs): try again in a moment."""

    code = "unavailable"
    http_status = 503


class EventError(JacWSError):
    """A :class:`ClientError` together with how to answer it on the socket (``type`` and ``id``)."""

    def __init__(self, error: ClientError, kind: str = "error", request_id: Any = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.kind = kind
        self.request_id = request_id

    def to_wire(self) -> dict[str, Any]:
        """The error in the wire shape, with ``type`` and echoed ``id``."""
        return self.error.to_wire(self.kind, self.request_id)


class SpecsError(JacWSError, TypeError):
    """A walker's ``__specs__`` has an unknown name or a wrong value."""


class WalkerTimedOut(JacWSError):
    """A walk ran past its time limit (distinct from a TimeoutError the walker raises itself)."""


class WalkerAbandoned(JacWSError):
    """Nobody waits for this Jac run any more (time limit, server stop): its changes are dropped."""


class ClientClosed(JacWSError):
    """A simulated client is not connected, or closed before its walker answered."""


class JacUnavailable(JacWSError, ImportError):
    """jaclang is not installed: ``pip install "jacws[jac]"`` (Python 3.12+)."""


class JacLoadError(JacWSError):
    """A .jac file does not compile, or declares no walker."""


class SourceUnavailable(JacWSError):
    """The source of a walker cannot be copied into a generated test."""


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

"""Server settings: one object, built from arguments or read once from ``JACWS_*`` variables; the limits and
the publish policy beside them."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .auth import check_secret, new_secret
from .protocol import ChannelEvent, ClientEvent, JoinEvent, PresenceEvent, UserEvent
from .stores import store_location

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Limits", "PublishPolicy", "Settings", "load_or_create_secret", "read_secret_file"]

log = logging.getLogger("jacws")


@dataclass(frozen=True)
class Limits:
    """Per-connection limits (PROTOCOL.md); the frame size is enforced by the transport.

    Incoming messages are rate limited by a token bucket (``rate_per_second`` sustained,
    ``rate_burst`` at once): a message over the limit is dropped and answered once with
    ``rate_limited``; a connection still over the limit ``rate_grace_seconds`` later is
    closed with 1008.

    The message and byte budgets belong to the sender (:mod:`jacws.ratelimit`): a logged-in user's
    sockets share one, an address's anonymous sockets another, kept across reconnects.

    ``max_connections`` caps this process's sockets (further handshakes get HTTP 503), and
    ``max_connections_per_address`` one client address's (HTTP 429);
    ``walker_timeout`` stops a walker that runs longer (``walker_error``);
    ``max_queued_walkers`` caps one connection's walker events waiting to run (``rate_limited``);
    ``max_channels_per_connection`` caps the channels one connection is on (``too_many_channels``);
    ``history_size`` and ``history_seconds`` bound what each channel keeps for ``recover`` (0: nothing);
    ``max_rest_walkers`` caps the REST walker runs under way at once (``503``), and
    ``max_rest_walkers_per_user`` those of one user, or one anonymous address (``429``);
    ``close_timeout`` is how long a close frame may wait for a peer that does not read
    before the connection is dropped.

    Floods and slow readers: what a connection's ``user``, ``channel`` and ``client`` events leave
    waiting in their recipients' backlogs (bytes times the recipients that could not take them at
    once) is counted against ``publish_bytes_per_second`` (with ``publish_burst_bytes`` at once);
    past it, the server stops reading that socket until the budget refills, so a flooder is slowed
    and nothing is dropped, while traffic that readers keep up with costs nothing. A socket whose backlog passes
    ``max_backlog_messages`` or ``max_backlog_bytes`` is closed with 1008 only when nothing of it has
    been written for ``slow_consumer_seconds`` (a reader that keeps reading is never closed while a
    burst drains), or at once past ``backlog_hard_bytes``.

    Logins (:mod:`jacws.throttle`): after ``login_free_failures`` wrong passwords in a row an account
    waits 1 s before its next try, twice as long after each further failure, ``login_longest_wait``
    at most; an address with ``login_failures_per_address`` failures within ``login_window`` seconds
    waits too (``429`` with ``Retry-After``).

    HTTP requests (:mod:`jacws.httpguard`, :mod:`jacws.bodylimit`): ``max_body_bytes`` bounds a body
    (``413``), ``max_upload_bytes`` a walker's ``multipart/form-data`` body with its files (``413``) and
    ``max_upload_files`` the files in it, ``max_header_bytes`` a request's headers (``431``),
    ``header_timeout`` the time they may take to arrive (``408``); every TCP connection, HTTP or websocket,
    counts toward ``max_connections``.
    """

    max_frame_bytes: int = 1 << 20
    max_ids: int = 1000
    max_json_depth: int = 128
    max_backlog_messages: int = 1000
    max_backlog_bytes: int = 8 << 20
    rate_per_second: float = 1000
    rate_burst: int = 2000
    rate_grace_seconds: float = 1.0
    max_connections: int = 10_000
    max_connections_per_address: int = 256
    walker_timeout: float | None = 60.0
    max_queued_walkers: int = 100
    max_channels_per_connection: int = 128
    history_size: int = 100
    history_seconds: float = 300.0
    max_rest_walkers: int = 64
    max_rest_walkers_per_user: int = 4
    close_timeout: float = 3.0
    publish_bytes_per_second: float = 32 << 20
    publish_burst_bytes: int = 8 << 20
    slow_consumer_seconds: float = 5.0
    backlog_hard_bytes: int = 64 << 20
    login_free_failures: int = 5
    login_longest_wait: float = 900.0
    login_failures_per_address: int = 30
    login_window: float = 60.0
    max_body_bytes: int = 1 << 20
    max_upload_bytes: int = 16 << 20
    max_upload_files: int = 32
    max_header_bytes: int = 64 << 10
    header_timeout: float = 10.0


PolicyCallable = Callable[["Connection", UserEvent | ChannelEvent | ClientEvent | PresenceEvent | JoinEvent], bool]
"""Decides whether a connection may publish an event (and, extensions, ask for presence or join watching it)."""
PublishPolicy = Literal["open", "authenticated"] | PolicyCallable


@dataclass(frozen=True)
class Settings:
    """Everything a jacws server is configured with.

    Args:
        host: interface to listen on.
        port: TCP port; 0 picks a free one.
        db: store location: None (in memory), a SQLite file path, or a URL.
        secret: JWT signing secret of at least 32 bytes; None generates one (kept beside a file database).
        token_lifetime: seconds a login token is valid.
        limits: per-connection limits.
        policy: publish policy: ``"open"``, ``"authenticated"`` or a callable.
        walker_threads: worker threads for plain (sync) abilities.
        log_level: uvicorn's log level.
        redis_url: ``redis://HOST:PORT`` to share deliveries with other processes; None for one process.
        sync_seconds: how often a server reads revocations made by other processes.
        presence_timeout: seconds after which the channel members of a process that stopped without saying
            so (it crashed) are gone from presence answers, and announced gone (``presence_leave``) at most a
            third of that later; with Redis only.
        ping_interval: seconds between keepalive pings to each socket (None: no pings); a socket that
            does not answer within the same time is closed.
        trusted_proxies: addresses or networks of reverse proxies whose ``X-Forwarded-For`` names the
            client (``"10.0.0.0/8"``, ``"*"`` for any peer); per-address limits then count the client's
            address, not the proxy's.
        allowed_origins: web pages (``"https://app.example.com"``, ``"*"`` for any) that may use the server
            from a browser besides its own (:mod:`jacws.origins`; CORS for them).
        allowed_hosts: names a request's ``Host`` may give; None: only loopback names when listening on a
            loopback interface, any otherwise (:func:`jacws.origins.host_rule`).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    db: str | None = None
    secret: str | None = None
    token_lifetime: float = 12 * 3600
    limits: Limits = field(default_factory=Limits)
    policy: PublishPolicy = "open"
    walker_threads: int = 32
    log_level: str = "warning"
    redis_url: str | None = None
    sync_seconds: float = 1.0
    presence_timeout: float = 20.0
    ping_interval: float | None = 20.0
    trusted_proxies: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] | None = None

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some settings changed; ``limits`` fields may be given by name too."""
        limit_names = {f.name for f in fields(Limits)}
        limit_changes = {k: changes.pop(k) for k in list(changes) if k in limit_names}
        if limit_changes:
            changes["limits"] = replace(changes.get("limits", self.limits), **limit_changes)
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``JACWS_HOST``, ``JACWS_PORT``, ``JACWS_DB``, ``JACWS_SECRET``,
        ``JACWS_TOKEN_LIFETIME``, ``JACWS_POLICY``, ``JACWS_LOG_LEVEL``, ``JACWS_WALKER_THREADS``,
        ``JACWS_REDIS_URL``, ``JACWS_SYNC_SECONDS``, ``JACWS_PRESENCE_TIMEOUT``,
        ``JACWS_TRUSTED_PROXIES``, ``JACWS_ALLOWED_ORIGINS``, ``JACWS_ALLOWED_HOSTS`` (comma-separated),
        ``JACWS_SECRET_FILE`` (a file holding the secret, when ``JACWS_SECRET`` is not set)
        and every limit by name (``JACWS_MAX_BACKLOG_MESSAGES``, ``JACWS_RATE_PER_SECOND``, ...);
        ``overrides`` win where they are not None."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        converters: dict[str, Any] = {
            "host": str,
            "port": int,
            "db": str,
            "secret": str,
            "token_lifetime": float,
            "policy": str,
            "log_level": str,
            "walker_threads": int,
            "redis_url": str,
            "sync_seconds": float,
            "presence_timeout": float,
            "ping_interval": float,
            "trusted_proxies": _entries,
            "allowed_origins": _entries,
            "allowed_hosts": _entries,
        }
        for limit in fields(Limits):
            converters[limit.name] = float if "float" in str(limit.type) else int
        for name, convert in converters.items():
            raw = env.get(f"JACWS_{name.upper()}")
            if raw:
                values[name] = convert(float(raw)) if convert is int else convert(raw)
        secret_file = env.get("JACWS_SECRET_FILE")
        if secret_file and "secret" not in values:
            values["secret"] = read_secret_file(secret_file)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls().with_changes(**values)


def read_secret_file(path: str | Path) -> str:
    """The token secret kept in the file at ``path`` (surrounding whitespace removed).

    Raises:
        ValueError: the file cannot be read, is empty, or holds fewer than 32 bytes.
    """
    try:
        secret = Path(path).read_text().strip()
    except OSError as error:
        raise ValueError(f"cannot read the token secret from {path}: {error.strerror}") from None
    return check_secret(secret, f"read from {path}")


def _entries(raw: str) -> tuple[str, ...]:
    return tuple(entry.strip() for entry in raw.split(",") if entry.strip())


def load_or_create_secret(db: str | None) -> tuple[str, str]:
    """A signing secret for a server with no configured one, and where it came from.

    For a file database the secret is kept in ``<db>.secret`` (owner-only permissions)
    so tokens survive a restart; otherwise a new one is generated for this run.
    """
    where = store_location(db)
    if where.kind != "file":
        return new_secret(), "generated for this run"
    path = Path(where.path).with_name(Path(where.path).name + ".secret")
    if path.exists():
        return read_secret_file(path), f"read from {path}"
    secret = new_secret()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret)
    return secret, f"generated and stored in {path}"

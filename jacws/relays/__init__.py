"""Relays carry deliveries between processes: the interface and wire form (:mod:`.base`), the
in-process default (:mod:`.local`) and Redis pub/sub (:mod:`.redis`, the ``redis`` extra);
:func:`open_relay` picks one from a URL."""

from __future__ import annotations

from .base import Relay, Relayed, decode_relayed, encode_relayed, new_origin
from .local import LocalRelay

__all__ = ["LocalRelay", "Relay", "Relayed", "decode_relayed", "encode_relayed", "new_origin", "open_relay"]


def open_relay(
    url: str | None,
    origin: str | None = None,
    presence_timeout: float = 20.0,
    history_size: int = 0,
    history_seconds: float = 300.0,
) -> Relay:
    """The relay for ``url``: none for the local relay, ``redis://``, ``rediss://`` or ``unix://`` for Redis.

    Raises:
        ValueError: a URL scheme no relay handles.
        ImportError: Redis is asked for but the ``redis`` package is missing.
    """
    if not url:
        return LocalRelay(origin)
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("redis", "rediss", "unix"):
        try:
            from .redis import RedisRelay
        except ImportError as error:  # pragma: no cover - the extra is installed in tests
            raise ImportError('the Redis relay needs the redis package: pip install "jacws[redis]"') from error
        return RedisRelay(
            url,
            origin,
            presence_timeout=presence_timeout,
            history_size=history_size,
            history_seconds=history_seconds,
        )
    raise ValueError(f"no relay for {scheme}:// URLs (use redis://HOST:PORT)")

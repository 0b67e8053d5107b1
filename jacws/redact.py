"""Query values out of the server's log: channel ids are how clients find each other, not log material.

uvicorn logs every request and websocket handshake at INFO with its path and query string
(``"WebSocket /websocket?channel_id=..." [accepted]``). :class:`RedactQueries`, a logging filter put on
uvicorn's loggers by :func:`redact_uvicorn_logs`, keeps each parameter's name and drops its value.
"""

from __future__ import annotations

import logging
import re

__all__ = ["RedactQueries", "redact_query", "redact_uvicorn_logs"]

_PATH_WITH_QUERY = re.compile(r"(/[^?\s\"]*)\?([^\s\"]*)")
_VALUE = re.compile(r"=[^&]*")


def redact_query(text: str) -> str:
    """``text`` with the value of every query parameter of a path replaced by ``…``."""
    return _PATH_WITH_QUERY.sub(lambda m: f"{m.group(1)}?{_VALUE.sub('=…', m.group(2))}", text)


class RedactQueries(logging.Filter):
    """Rewrite a record's string arguments that hold a path with a query (the record is kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, str) and "?" in a for a in args):
            record.args = tuple(redact_query(a) if isinstance(a, str) else a for a in args)
        return True


_FILTER = RedactQueries()


def redact_uvicorn_logs() -> None:
    """Put the filter on uvicorn's request and handshake loggers (once, however often called)."""
    for name in ("uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)

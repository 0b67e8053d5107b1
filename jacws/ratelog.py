"""Warnings that clients can make the server repeat, logged at most once per interval, with a count of the rest.

A flood of slow consumers, say, would otherwise write a log line each: :class:`LimitedLog` writes the
first, drops the others for ``interval`` seconds, then says how many it dropped with the next one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

__all__ = ["LimitedLog"]


class LimitedLog:
    """``warning(key, message, *args)`` at most once per ``interval`` seconds for each ``key``."""

    def __init__(self, logger: logging.Logger, interval: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self._last: dict[str, float] = {}
        self._dropped: dict[str, int] = {}

    def warning(self, key: str, message: str, *args: Any, exc_info: bool = False) -> None:
        """Log ``message % args`` now (with the exception being handled, if ``exc_info``), unless a
        warning of ``key`` was logged less than ``interval`` ago."""
        now = self.clock()
        if now - self._last.get(key, -self.interval) < self.interval:
            self._dropped[key] = self._dropped.get(key, 0) + 1
            return
        self._last[key] = now
        dropped = self._dropped.pop(key, 0)
        if dropped:
            message += f" (and {dropped} more like it in the last {self.interval:g} s)"
        self.logger.warning(message, *args, exc_info=exc_info)

"""Memory freed by big walker runs, handed back to the system.

A run that connects or reads thousands of nodes allocates a good deal while it runs. Python frees
it when the run's graph session goes, but glibc's allocator keeps freed pages in its arenas (one per
thread that allocated: the walker threads), so the process would stay as big as its biggest run.
:func:`reclaim_after` watches a big session and, once it has been freed (when the run answered,
failed, or timed out and its thread finished), asks glibc to return free pages (``malloc_trim``),
at most once a second, on a short-lived thread of its own. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
import weakref
from collections.abc import Callable

__all__ = ["BIG_RUN", "Reclaimer", "reclaim_after", "reclaimer"]

BIG_RUN = 1000
"""Archetypes a session held at the end of its run for the run to count as big."""


def _malloc_trim() -> Callable[[], object] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc: nothing to ask
    return lambda: trim(0)


class Reclaimer:
    """Return freed memory to the system soon after big sessions are gone, at most every ``interval`` s."""

    def __init__(self, trim: Callable[[], object] | None, interval: float = 1.0) -> None:
        self._trim = trim
        self.interval = interval
        self.trims = 0
        self._lock = threading.Lock()
        self._scheduled = False
        self._last = 0.0

    def watch(self, session: object) -> None:
        """Trim once ``session`` has been freed."""
        if self._trim is not None:
            weakref.finalize(session, self.due)

    def due(self) -> None:
        """Something big was freed: trim now, or once ``interval`` has passed since the last trim."""
        with self._lock:
            if self._scheduled or self._trim is None:
                return
            self._scheduled = True
            delay = max(0.0, self._last + self.interval - time.monotonic())
        timer = threading.Timer(delay, self._run)
        timer.daemon = True
        timer.name = "jacws-reclaim"
        timer.start()

    def _run(self) -> None:
        assert self._trim is not None
        self._trim()  # ctypes lets go of the GIL while glibc walks its arenas
        with self._lock:
            self._scheduled = False
            self._last = time.monotonic()
            self.trims += 1


reclaimer = Reclaimer(_malloc_trim())
"""The process's reclaimer (glibc's allocator is process-wide)."""


def reclaim_after(session: object, size: int) -> None:
    """A run ended whose session held ``size`` archetypes: if that is big, trim once the session is freed."""
    if size >= BIG_RUN:
        reclaimer.watch(session)

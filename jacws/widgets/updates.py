"""The display pump: updates from any thread, applied in order and in batches by one thread, even while a cell runs.

Clients receive on their own loop thread and the kernel's main thread may be busy running
a cell (``time.sleep``, ``call.result()``), so views never redraw from either. A view
pushes what happened onto its :class:`UpdateQueue` (a cheap append, safe from any
thread); one display thread per process (``jacws-display``) applies each queue's pending
updates as one batch, ``interval`` seconds apart. Widget state therefore changes from
one place at a time: the display thread holds :data:`WIDGETS_LOCK` while it applies, and
the widgets' own handlers of clicks and edits (on the kernel's main thread) take it too.
ipykernel 7.1+ sends comm messages from any thread, so the browser sees every batch at
once, busy kernel or not. No ipywidgets here.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["WIDGETS_LOCK", "UpdateQueue", "locked"]

log = logging.getLogger("jacws.widgets")

WIDGETS_LOCK = threading.RLock()
"""Held by whoever changes widget state: the display thread, and the widgets' event handlers."""

F = TypeVar("F", bound=Callable[..., Any])


def locked(fn: F) -> F:
    """Run a widget event handler under :data:`WIDGETS_LOCK` (so it never interleaves with a batch)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with WIDGETS_LOCK:
            return fn(*args, **kwargs)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper  # type: ignore[return-value]


class UpdateQueue:
    """Collects updates from any thread; the display thread applies them in order, in batches.

    Args:
        apply: called with the list of pending updates (under :data:`WIDGETS_LOCK`).
        interval: seconds between batches (the display thread's tick).
        max_batch: most updates applied in one go (the rest wait for the next tick).
        auto: apply on the display thread; False leaves every batch to :meth:`flush`.
        locked: apply under :data:`WIDGETS_LOCK`; False for an ``apply`` that takes it itself, around
            its widget changes only (one that first waits for something else, such as a server).
    """

    def __init__(
        self,
        apply: Callable[[list[Any]], None],
        interval: float = 0.1,
        max_batch: int = 5000,
        auto: bool = True,
        locked: bool = True,
    ) -> None:
        self._apply = apply
        self._serial = WIDGETS_LOCK if locked else threading.RLock()
        self.interval = interval
        self.max_batch = max_batch
        self._pending: list[Any] = []
        self._lock = threading.Lock()
        self.batches = 0
        self.auto = auto

    def push(self, update: Any) -> None:
        """Queue one update; safe from any thread, never waits for a redraw."""
        with self._lock:
            self._pending.append(update)
            first = len(self._pending) == 1
        if first and self.auto:
            _Pump.get().wake(self)

    @property
    def pending(self) -> int:
        """Updates waiting for the next batch."""
        with self._lock:
            return len(self._pending)

    def flush(self) -> int:
        """Apply what is pending now, on the calling thread; return how many updates."""
        try:
            with self._serial:  # taken before the batch is taken, so two flushes never swap batches
                with self._lock:
                    batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                if batch:
                    self.batches += 1
                    self._apply(batch)
        finally:  # even when a batch failed: what is left must still be applied
            if self.pending and self.auto:
                _Pump.get().wake(self)
        return len(batch)


class _Pump:
    """The one display thread: applies the batches of every queue with pending updates, a tick apart."""

    _instance: _Pump | None = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        self._dirty: weakref.WeakSet[UpdateQueue] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name="jacws-display", daemon=True)
        self.thread.start()

    @classmethod
    def get(cls) -> _Pump:
        with cls._instance_lock:
            if cls._instance is None or not cls._instance.thread.is_alive():
                cls._instance = _Pump()
            return cls._instance

    def wake(self, queue: UpdateQueue) -> None:
        with self._lock:
            self._dirty.add(queue)
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                queues = list(self._dirty)
                self._dirty = weakref.WeakSet()
                self._wake.clear()
            tick = min((q.interval for q in queues), default=0.1)
            for queue in queues:
                try:
                    queue.flush()
                except Exception:  # a broken view must not stop the others' updates
                    log.exception("a playground view failed to apply its updates")
            # One batch per tick: what arrives meanwhile waits, so a burst costs a few redraws.
            time.sleep(tick)

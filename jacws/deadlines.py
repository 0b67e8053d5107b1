"""Time limits for many walks at once: one timer per slot of expiry times, not one per walk.

``asyncio.timeout`` makes (and cancels) a loop timer for every call: at thousands of walker calls a
second that is a tenth of a walker round trip. Here a limit joins the slot of its expiry time
(``resolution`` seconds wide); the slot's one timer cancels the walks still in it, never before
their limit and at most ``resolution`` seconds after. A walk that ends leaves its slot. The task
is cancelled as ``asyncio.timeout`` does it, so an outer cancellation (the server stopping) is
still told apart from the limit.
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import Coroutine
from typing import Any

__all__ = ["RESOLUTION", "within"]

RESOLUTION = 0.01
"""Seconds a limit may be overrun, at most (the width of a slot)."""


class _Limit:
    """One walk's limit: its task, and whether the limit cancelled it."""

    __slots__ = ("expired", "task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.expired = False


class _Slots:
    """The limits of one event loop, by slot of expiry time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.slots: dict[int, set[_Limit]] = {}

    def join(self, seconds: float, limit: _Limit) -> int:
        key = math.ceil((self.loop.time() + seconds) / RESOLUTION)
        members = self.slots.get(key)
        if members is None:
            members = self.slots[key] = set()
            self.loop.call_at(key * RESOLUTION, self._expire, key)
        members.add(limit)
        return key

    def leave(self, key: int, limit: _Limit) -> None:
        members = self.slots.get(key)
        if members is not None:
            members.discard(limit)

    def _expire(self, key: int) -> None:
        for limit in self.slots.pop(key, ()):
            limit.expired = True
            limit.task.cancel()


_by_loop: dict[asyncio.AbstractEventLoop, _Slots] = {}


def _slots(loop: asyncio.AbstractEventLoop) -> _Slots:
    slots = _by_loop.get(loop)
    if slots is None:
        for old in [old for old in _by_loop if old.is_closed()]:
            del _by_loop[old]
        slots = _by_loop[loop] = _Slots(loop)
    return slots


async def within(seconds: float, body: Coroutine[Any, Any, None]) -> bool:
    """Await ``body``, cancelling it once ``seconds`` have passed; whether it finished in time.

    Must be awaited in a task (the limit cancels the current task, as ``asyncio.timeout`` does).
    """
    task = asyncio.current_task()
    assert task is not None, "within() runs in a task"
    slots = _slots(task.get_loop())
    limit = _Limit(task)
    key = slots.join(seconds, limit)
    try:
        await body
    except asyncio.CancelledError:
        if limit.expired and _uncancel(task) == 0:
            return False
        raise
    finally:
        slots.leave(key, limit)
    if limit.expired:  # the body swallowed the cancellation: it finished, late
        _uncancel(task)
    return True


def _uncancel(task: asyncio.Task[Any]) -> int:
    """Take back one cancellation request (Python 3.11+, where :func:`within` is used); how many remain."""
    if sys.version_info >= (3, 11):
        return task.uncancel()
    return 0  # pragma: no cover - Python 3.10 has no uncancel; walkers use asyncio.wait_for there

"""Channel history for recovery (extension): each channel's latest messages, bounded by count and age, with offsets.

An offset numbers a channel's messages from 1 in the order this process delivered them. A client that kept the
offset of the last message it received asks for the ones after it (``recover``) once it is back. No I/O here.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Container

__all__ = ["ChannelHistory"]


class ChannelHistory:
    """The latest messages of every channel, ``size`` per channel and ``seconds`` old at most.

    A channel with no message kept is forgotten entirely, its offsets with it, once it has no
    member left to count on them (see :meth:`sweep`).
    """

    def __init__(self, size: int, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.seconds = seconds
        self.clock = clock
        self._kept: dict[str, deque[tuple[int, float, bytes]]] = {}
        self._latest: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        """Whether anything is kept (``size`` > 0)."""
        return self.size > 0

    def append(self, channel_id: str, data: bytes) -> int:
        """Keep a message delivered to ``channel_id``; its offset."""
        offset = self._latest.get(channel_id, 0) + 1
        self._latest[channel_id] = offset
        kept = self._kept.get(channel_id)
        if kept is None:
            kept = self._kept[channel_id] = deque(maxlen=self.size)
        kept.append((offset, self.clock(), data))
        return offset

    def latest(self, channel_id: str) -> int:
        """The offset of the channel's last message (0 before the first)."""
        return self._latest.get(channel_id, 0)

    def between(self, channel_id: str, since: int, until: int) -> tuple[list[tuple[int, bytes]], bool]:
        """The messages after offset ``since`` up to ``until`` (included), in order, and whether they are all
        there (False when some were dropped for count or age)."""
        if since > self.latest(channel_id):  # offsets from before the channel was forgotten
            return [], False
        kept = self._kept.get(channel_id)
        horizon = self.clock() - self.seconds
        if kept is not None:
            while kept and kept[0][1] < horizon:
                kept.popleft()
        found = [(offset, data) for offset, _, data in kept or () if since < offset <= until]
        wanted = max(0, until - max(since, 0))
        return found, len(found) == wanted

    def sweep(self, active: Container[str]) -> None:
        """Drop messages past their age, and every trace of channels with none left that are not ``active``
        (channels with members keep counting their offsets)."""
        horizon = self.clock() - self.seconds
        for channel_id in list(self._kept):
            kept = self._kept[channel_id]
            while kept and kept[0][1] < horizon:
                kept.popleft()
            if not kept and channel_id not in active:
                del self._kept[channel_id]
                self._latest.pop(channel_id, None)

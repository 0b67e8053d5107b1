"""The server's live numbers: counters the hub bumps as it works, rates and percentiles worked out when read.

Counting costs the hot path one integer increment per message; everything else (rates
over the last second or so, walker latency percentiles, the largest backlog) is computed by
:meth:`Metrics.read`, which the server calls on its loop a few times a second at most. No I/O.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["LATENCY_WINDOW", "RATE_WINDOW", "Metrics", "percentile"]

RATE_WINDOW = 1.0
"""Seconds over which messages per second are measured (at least; from the newest reading that old)."""

LATENCY_WINDOW = 1000
"""How many recent walker runs the latency percentiles cover."""

TOP_CHANNELS = 10
"""How many channels (the largest) :meth:`Metrics.read` lists with their member counts."""


def percentile(values: list[float], fraction: float) -> float | None:
    """The ``fraction`` percentile of ``values`` (nearest rank), or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


class Metrics:
    """Counters of one hub: messages in and out, walker runs and their durations."""

    __slots__ = (
        "_clock",
        "_readings",
        "closes",
        "messages_in",
        "messages_out",
        "publishers_held",
        "walker_runs",
        "walker_seconds",
    )

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.messages_in = 0
        self.messages_out = 0
        self.walker_runs = 0
        self.walker_seconds: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self.closes: dict[int, int] = {}
        self.publishers_held = 0  # times a publisher over its budget was not read for a while
        self._readings: deque[tuple[float, int, int]] = deque([(clock(), 0, 0)], maxlen=64)

    def walker_ran(self, seconds: float) -> None:
        """Note one walker run (socket or REST) and how long it took."""
        self.walker_runs += 1
        self.walker_seconds.append(seconds)

    def closed(self, code: int) -> None:
        """Note that the server closed a connection with ``code`` (1008 for a slow consumer, ...)."""
        self.closes[code] = self.closes.get(code, 0) + 1

    def rates(self) -> tuple[float, float]:
        """Messages in and out per second, over the last :data:`RATE_WINDOW` seconds or so."""
        now = self._clock()
        readings = self._readings
        base = readings[0]
        for reading in readings:  # the newest reading at least RATE_WINDOW old (else the oldest kept)
            if now - reading[0] >= RATE_WINDOW:
                base = reading
        readings.append((now, self.messages_in, self.messages_out))
        while len(readings) > 2 and now - readings[1][0] >= RATE_WINDOW:  # keep one at least that old
            readings.popleft()
        elapsed = now - base[0]
        if elapsed <= 0:
            return 0.0, 0.0
        return (self.messages_in - base[1]) / elapsed, (self.messages_out - base[2]) / elapsed

    def read(self, backlogs: Iterable[int], channels: Mapping[str, Mapping[str, Any]], users: int) -> dict[str, Any]:
        """The numbers as a dict (see :meth:`jacws.server.Server.metrics`), given the hub's live indexes."""
        rate_in, rate_out = self.rates()
        backlog_list = list(backlogs)
        latencies = list(self.walker_seconds)
        p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
        largest = sorted(channels.items(), key=lambda item: len(item[1]), reverse=True)[:TOP_CHANNELS]
        return {
            "at": time.time(),
            "connections": len(backlog_list),
            "users_online": users,
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
            "messages_in_per_s": round(rate_in, 1),
            "messages_out_per_s": round(rate_out, 1),
            "walker_runs": self.walker_runs,
            "walker_p50_ms": None if p50 is None else round(p50 * 1000, 3),
            "walker_p99_ms": None if p99 is None else round(p99 * 1000, 3),
            "largest_backlog": max(backlog_list, default=0),
            "closed_by_server": {str(code): n for code, n in sorted(self.closes.items())},
            "publishers_held": self.publishers_held,
            "channel_count": len(channels),
            "channels": {channel: len(members) for channel, members in largest},
        }

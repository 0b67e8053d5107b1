"""Live numbers: small charts of a server's metrics (and of a load on it), sampled twice a second."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..errors import JacWSError
from .updates import UpdateQueue

__all__ = ["KEPT", "PERIOD", "SERIES", "MetricsCharts"]

HERE = Path(__file__).parent

PERIOD = 0.5
"""Seconds between two readings of the server's metrics (the charts move at most twice a second)."""

KEPT = 120
"""Readings kept and drawn (a minute at :data:`PERIOD`)."""

SERIES = (
    "connections",
    "messages_in_per_s",
    "messages_out_per_s",
    "walker_p50_ms",
    "walker_p99_ms",
    "largest_backlog",
)
"""The metrics drawn, in the order of each reading's values (after the time)."""

LOAD_SERIES = ("delivered_per_s", "latency_p50_ms", "latency_p99_ms")
"""A load's figures drawn while it runs, after the server's (charts.js knows both lists in this order)."""


class MetricsCharts(anywidget.AnyWidget):
    """Charts of :meth:`Server.metrics <jacws.server.Server.metrics>`: connections, messages in and out per
    second, walker latency p50/p99, the largest send backlog, per-channel members, and a running load's
    delivered per second, latency and losses.

    Dormant until displayed (or :meth:`start`): then a thread reads the metrics every :data:`PERIOD`
    seconds while the server runs, and the view gets one small update per reading.
    """

    _esm = HERE / "charts.js"
    _css = HERE / "charts.css"
    samples = traitlets.List(traitlets.List()).tag(sync=True)  # [[time, *SERIES, *LOAD_SERIES], ...], oldest first
    latest = traitlets.Dict().tag(sync=True)  # the newest reading, whole (channels, closes, load)

    def __init__(self, server: Any, period: float = PERIOD) -> None:
        super().__init__()
        self.server = server
        self.period = period
        self.updates = UpdateQueue(self._apply, interval=period)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.on_reading: Callable[[dict[str, Any]], None] | None = None  # told of each reading (the panel)

    def start(self) -> None:
        """Start reading the server's metrics (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._sample, name="jacws-metrics", daemon=True)
            self._thread.start()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.start()
        return super()._repr_mimebundle_(**kwargs)

    def read(self) -> dict[str, Any] | None:
        """One reading of the server's metrics now (None while it is not running)."""
        if self.server.state.value != "running":
            return None
        try:
            numbers: dict[str, Any] = self.server.metrics(timeout=2)
        except (JacWSError, TimeoutError, FutureTimeout, RuntimeError):  # stopped meanwhile
            return None
        return numbers

    def _sample(self) -> None:
        while not self._stop.wait(self.period):
            numbers = self.read()
            if numbers is not None:
                self.updates.push(numbers)
                if self.on_reading is not None:
                    self.on_reading(numbers)

    def _apply(self, readings: list[dict[str, Any]]) -> None:
        rows = [_row(numbers) for numbers in readings]
        self.samples = [*self.samples, *rows][-KEPT:]
        self.latest = readings[-1]

    def flush(self) -> int:
        """Take one reading now and show it (for tests and scripts); return how many readings were applied."""
        numbers = self.read()
        if numbers is not None:
            self.updates.push(numbers)
        return self.updates.flush()

    def close(self) -> None:
        self._stop.set()
        super().close()


def _row(numbers: dict[str, Any]) -> list[Any]:
    load = numbers.get("load") or {}
    return [numbers["at"], *(numbers.get(name) for name in SERIES), *(load.get(name) for name in LOAD_SERIES)]

"""The load generator's figures (jacws.loadgen); its clients are run for real by tests/test_load.py."""

from __future__ import annotations

import time

from jacws.loadgen import Figures


def test_figures_count_deliveries_latency_and_what_open_readers_miss() -> None:
    figures = Figures(clients=3)
    figures.published = 4
    sent = time.time() - 0.010  # ten milliseconds ago
    for index, count in ((0, 4), (1, 3), (2, 1)):
        for _ in range(count):
            figures.got(index, sent)
    live = figures.line()
    assert live["delivered"] == 8 and live["delivered_per_s"] == 8.0 and "lost" not in live
    assert 10 <= live["latency_p50_ms"] <= live["latency_p99_ms"] < 1000
    final = figures.line(final=True, readers=[0, 1])  # client 2 was closed: what it missed is not a loss
    assert final["phase"] == "done" and final["lost"] == 1 and final["expected"] == 8

"""The live numbers in the server panel (jacws.widgets.charts)."""

from __future__ import annotations

import threading

from jacws.server import Server
from jacws.settings import Settings
from jacws.widgets import MetricsCharts, Playground
from jacws.widgets.charts import KEPT, SERIES


def test_a_reading_becomes_one_row_of_every_series_and_the_latest_numbers() -> None:
    with Server(Settings(port=0)) as server:
        alice = server.client(channel_id="lobby")
        alice.channel(["lobby"], {"type": "chat"})
        alice.wait_for(lambda m: m.get("type") == "chat")
        charts = MetricsCharts(server)
        assert charts.samples == []  # dormant until displayed or flushed
        assert charts.flush() == 1
        row = charts.samples[-1]
        assert len(row) == 1 + len(SERIES) + 3 and row[1 + SERIES.index("connections")] == 1
        assert charts.latest["channels"] == {"lobby": 1} and "load" not in charts.latest
        charts.close()


def test_started_charts_read_twice_a_second_and_keep_a_minute() -> None:
    with Server(Settings(port=0)) as server:
        charts = MetricsCharts(server, period=0.05)
        arrived = threading.Event()
        charts.observe(lambda change: arrived.set() if len(change["new"]) >= 3 else None, "samples")
        charts.start()
        assert arrived.wait(10), "no readings came"
        charts.close()
        for _ in range(KEPT + 5):
            charts.updates.push(server.metrics())
        charts.updates.flush()
        assert len(charts.samples) == KEPT


def test_the_playgrounds_panel_shows_a_running_load_and_lists_twenty_connections() -> None:
    with Server(Settings(port=0)) as server:
        play = Playground(server, [server.client(channel_id="lobby")])
        assert play.panel is not None
        load = server.load(clients=25, channel_id="load", rate=50, seconds=2, payload=10)
        while load.numbers()["connected"] < 25 and not load.finished:
            load.wait_for_figures(1)
        play.flush()
        assert "and 6 more" in play.panel.connections.value  # 26 connections: the first 20 by name
        final = load.wait(timeout=60)
        play.flush()
        shown = play.panel.charts.latest["load"]
        assert shown["phase"] == "done" and shown["lost"] == final["lost"] == 0

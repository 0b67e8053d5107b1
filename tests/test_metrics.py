"""The server's live numbers (jacws.metrics, Server.metrics)."""

from __future__ import annotations

import pytest

from jacws.metrics import Metrics, percentile
from jacws.server import Server


class Clock:
    """Seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_percentiles_are_nearest_rank_and_none_without_values() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50 and percentile(values, 0.99) == 99 and percentile(values, 1.0) == 100
    assert percentile([7.0], 0.99) == 7 and percentile([], 0.5) is None


def test_rates_are_measured_over_the_last_second_or_so() -> None:
    clock = Clock()
    metrics = Metrics(clock)
    metrics.messages_in, metrics.messages_out = 10, 100
    clock.now += 0.5
    assert metrics.rates() == (20.0, 200.0)  # half a second since the start
    for _ in range(8):  # steady 10 in and 100 out per 0.25 s, read four times a second
        clock.now += 0.25
        metrics.messages_in += 10
        metrics.messages_out += 100
        rate_in, rate_out = metrics.rates()
    assert (rate_in, rate_out) == (40.0, 400.0)
    clock.now += 2  # quiet: the rate falls to nothing
    assert metrics.rates() == (0.0, 0.0)


def test_a_reading_has_latencies_backlog_channels_and_closes() -> None:
    metrics = Metrics(Clock())
    for ms in range(1, 101):
        metrics.walker_ran(ms / 1000)
    metrics.closed(1008)
    metrics.closed(1008)
    channels = {f"c{n}": {str(i): None for i in range(n)} for n in range(1, 15)}
    numbers = metrics.read([0, 7, 3], channels, users=2)
    assert numbers["walker_p50_ms"] == 50 and numbers["walker_p99_ms"] == 99 and numbers["walker_runs"] == 100
    assert numbers["largest_backlog"] == 7 and numbers["connections"] == 3 and numbers["users_online"] == 2
    assert numbers["closed_by_server"] == {"1008": 2}
    assert numbers["channel_count"] == 14 and list(numbers["channels"])[:2] == ["c14", "c13"]
    assert len(numbers["channels"]) == 10  # the largest ten


@pytest.mark.jacws_walkers("session_walkers.py")
def test_server_metrics_count_a_live_servers_traffic_and_walker_runs(jacws_server: Server) -> None:
    before = jacws_server.metrics()
    assert before["connections"] == 0 and before["walker_p50_ms"] is None
    alice = jacws_server.client(user="alice@example.com", channel_id="lobby")
    guest = jacws_server.client(channel_id="lobby")
    for n in range(20):
        alice.walker("s_greet", name=str(n)).result()
    guest.wait_for(lambda m: m.get("text") == "hello 19")
    alice.rest("s_greet", name="rest")
    numbers = jacws_server.metrics()
    assert numbers["connections"] == 2 and numbers["users_online"] == 1
    assert numbers["messages_in"] == 20 and numbers["messages_in_per_s"] > 0
    # two connection events, twenty answers and forty greetings, the REST call's two greetings
    assert numbers["messages_out"] == 2 + 20 * 3 + 2 and numbers["messages_out_per_s"] > 0
    assert numbers["walker_runs"] == 21 and 0 < numbers["walker_p50_ms"] <= numbers["walker_p99_ms"]
    assert numbers["channels"] == {"lobby": 2} and numbers["largest_backlog"] == 0
    assert "load" not in numbers

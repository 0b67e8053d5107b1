"""Memory follows the data: a real ``jacws serve`` storing 50,000 small nodes, on both stores, and runs
stopped by their time limit; the process's resident memory read from /proc while it serves."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_cli import ROOT, free_port

from jacws.memory import BIG_RUN, Reclaimer

WALKERS = ROOT / "bench" / "memory_walkers.py"  # the benchmark stores the same nodes
RUNS, NODES = 5, 10_000


class Served:
    """``jacws serve tests/memory_walkers.py`` in a subprocess, with its resident memory at hand."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "jacws.cli", "serve", str(WALKERS), "--port", str(self.port), *args]
        self.process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})}, stderr=subprocess.DEVNULL)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.http.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "jacws serve did not start"
                assert self.process.poll() is None, "jacws serve exited"
                time.sleep(0.1)

    def rss(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def settled_rss(self, at_most: int, seconds: float = 10) -> int:
        """The resident memory once it is at most ``at_most`` (freed memory goes back within a second or
        so of a run), or what it still is after ``seconds``."""
        deadline = time.monotonic() + seconds
        while (now := self.rss()) > at_most and time.monotonic() < deadline:
            time.sleep(0.1)
        return now

    def run(self, walker: str, **fields: object) -> httpx.Response:
        return self.http.post(f"/walker/{walker}", json=fields)

    def close(self) -> None:
        self.http.close()
        self.process.terminate()
        self.process.wait(timeout=15)


@pytest.fixture
def served() -> Iterator[Served]:
    server = Served()
    yield server
    server.close()


def _fill(server: Served) -> int:
    """Warm up, then store RUNS x NODES nodes; return the resident memory before the runs."""
    assert server.run("add_items", count=BIG_RUN).status_code == 200  # imports, threads, caches: not data
    base = server.settled_rss(0, seconds=2)
    for _ in range(RUNS):
        answer = server.run("add_items", count=NODES)
        assert answer.json() == {"status": 200, "reports": [NODES]}
    return base


def test_the_in_memory_store_costs_about_its_rows_per_node(served: Served) -> None:
    base = _fill(served)
    per_node = (served.settled_rss(base + RUNS * NODES * 1000) - base) / (RUNS * NODES)
    assert per_node < 1000, f"{per_node:.0f} bytes per stored node (before: about 19,000)"
    assert served.run("count_items").json()["reports"] == [RUNS * NODES + BIG_RUN]
    after_read = served.settled_rss(base + RUNS * NODES * 1000)  # reading them all is returned too
    assert (after_read - base) / (RUNS * NODES) < 1000


@pytest.fixture
def file_served(tmp_path: Path) -> Iterator[Served]:
    server = Served("--db", str(tmp_path / "nodes.db"))
    yield server
    server.close()


def test_a_file_store_keeps_the_process_flat_however_many_nodes_it_holds(file_served: Served) -> None:
    base = _fill(file_served)
    grown = file_served.settled_rss(base + 20 * 2**20) - base
    assert grown < 20 * 2**20, f"grew {grown / 2**20:.0f} MB for {RUNS * NODES} stored nodes (before: 870 MB)"
    assert file_served.run("count_items").json()["reports"] == [RUNS * NODES + BIG_RUN]
    assert file_served.settled_rss(base + 20 * 2**20) - base < 20 * 2**20


def test_memory_taken_by_runs_stopped_at_their_time_limit_is_returned() -> None:
    server = Served(env={"JACWS_WALKER_TIMEOUT": "1"})
    try:
        assert server.run("add_items", count=BIG_RUN).status_code == 200
        base = server.settled_rss(0, seconds=2)
        for _ in range(3):
            stopped = server.run("add_until_stopped")
            assert stopped.status_code == 500 and "timed out after 1 s" in stopped.json()["error"]
        assert server.run("count_items").json()["reports"] == [BIG_RUN]  # none of theirs was kept
        grown = server.settled_rss(base + 30 * 2**20) - base
        assert grown < 30 * 2**20, f"still {grown / 2**20:.0f} MB above where it was"
    finally:
        server.close()


def test_a_reclaimer_trims_once_a_second_at_most_and_only_after_the_session_is_gone() -> None:
    trims: list[float] = []
    reclaimer = Reclaimer(lambda: trims.append(time.monotonic()), interval=0.3)

    class Session:
        pass

    session = Session()
    reclaimer.watch(session)
    assert trims == []
    del session  # freed: the trim follows at once
    deadline = time.monotonic() + 5
    while reclaimer.trims < 1 and time.monotonic() < deadline:  # counted once the trim is over
        time.sleep(0.01)
    for _ in range(3):
        reclaimer.due()
    while reclaimer.trims < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert reclaimer.trims == 2 and trims[1] - trims[0] >= 0.3  # three more asks, one more trim

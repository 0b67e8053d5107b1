"""Benchmarks: jacws against a bare `websockets` baseline, side by side in one run.

    python bench/run.py                      # every scenario at the sizes of bench/RESULTS.md
    python bench/run.py --only fanout,slow   # some scenarios
    python bench/run.py --only flood         # an unpaced flood of 8 KB messages with a stalled subscriber
    python bench/run.py --quick              # small sizes, a smoke run

Each scenario runs against the baseline server (bench/baseline.py) and then against
`jacws serve bench/walkers.py`, each in its own process, with the same load generator
(bench/wsclient.py, spread over worker processes), and prints both figures and their
ratio. Server CPU and RSS come from /proc; the load generator reports its own CPU so a
saturated generator is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from websockets.exceptions import InvalidState

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wsclient import LeanClient, open_client

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
CTX = mp.get_context("fork")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- servers -----------------------------------------------------------------------------------


class ServerProcess:
    """A server under test in its own process."""

    def __init__(self, kind: str, extra: Sequence[str] = ()) -> None:
        self.kind = kind
        self.port = free_port()
        if kind == "baseline":
            command = [sys.executable, str(ROOT / "bench" / "baseline.py"), "--port", str(self.port)]
        else:
            command = [
                sys.executable,
                "-m",
                "jacws.cli",
                "serve",
                str(ROOT / "bench" / "walkers.py"),
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                *extra,
            ]
        # The benchmarks' publishers send far above jacws's default per-connection rate
        # limit (1000 messages/s), which the baseline does not have: lift it for a fair race.
        # The slow-consumer and flood scenarios' stalled client reads again only after the run
        # (STALL_MAX seconds at most): a longer close timeout lets it still see its 1008 instead of
        # being dropped unread.
        env = {
            **os.environ,
            "JACWS_RATE_PER_SECOND": "1000000",
            "JACWS_RATE_BURST": "1000000",
            "JACWS_MAX_CONNECTIONS_PER_ADDRESS": "100000",  # every bench client comes from loopback
            "JACWS_CLOSE_TIMEOUT": "30",
        }
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"{kind} server did not start") from None
                time.sleep(0.05)

    def _stat(self) -> list[str]:
        return Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()

    def cpu(self) -> float:
        """Seconds of CPU (user + system) the server has used."""
        fields = self._stat()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory(self, key: str = "VmRSS") -> int:
        """Resident memory (or another /proc status field) in bytes."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- load workers ------------------------------------------------------------------------------


def _worker(target: Callable[..., Any], args: tuple[Any, ...], results: Any, go: Any) -> None:
    raise_fd_limit()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    try:
        result = runner(target(*args, results, go))
    except Exception as error:  # reported to the parent
        result = {"error": repr(error)}
    results.put(("done", result))


def cpu_now() -> float:
    """CPU seconds this process has used (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Workers:
    """Load worker processes running one coroutine function each; they report ready, then results."""

    target: Callable[..., Any]
    shares: list[tuple[Any, ...]]
    results: Any = field(default_factory=lambda: CTX.Queue())
    go: Any = field(default_factory=lambda: CTX.Event())
    processes: list[Any] = field(default_factory=list)

    def start(self, timeout: float = 120) -> list[Any]:
        for args in self.shares:
            process = CTX.Process(target=_worker, args=(self.target, args, self.results, self.go), daemon=True)
            process.start()
            self.processes.append(process)
        return [self._get("ready", timeout) for _ in self.shares]

    def _get(self, kind: str, timeout: float) -> Any:
        while True:
            tag, value = self.results.get(timeout=timeout)
            if tag == "done" and "error" in value:
                raise RuntimeError(f"load worker failed: {value['error']}")
            if tag == kind:
                return value

    def finish(self, timeout: float = 300) -> list[dict[str, Any]]:
        self.go.set()
        done = [self._get("done", timeout) for _ in self.shares]
        for process in self.processes:
            process.join(10)
        return done


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


async def _wait_go(go: Any) -> float:
    """Wait for the parent's go; return the CPU used so far (the measurement starts here)."""
    while not go.is_set():
        await asyncio.sleep(0.005)
    return cpu_now()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- scenario: channel fan-out -------------------------------------------------------------------

STALL_MAX = 20.0  # seconds a stalled subscriber stays stalled at most (below the bench's JACWS_CLOSE_TIMEOUT)
IDLE_LIMIT = 15.0  # seconds without a delivery after which subscribers stop waiting for the rest
DELIVERY_LIMIT = 120.0  # seconds subscribers wait for every message at most


async def _until(event: asyncio.Event, last_arrival: Callable[[], float]) -> None:
    """Wait for ``event``; give up after DELIVERY_LIMIT seconds, or after IDLE_LIMIT seconds without a delivery."""
    start = time.time()
    while not event.is_set():
        now = time.time()
        if now - start > DELIVERY_LIMIT or now - max(start, last_arrival()) > IDLE_LIMIT:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), 1)


def _count_stalled(client: LeanClient, payload: bytes) -> None:
    """A stalled subscriber's ``on_text``: counts the channel messages it reads (once it reads again)."""
    if not payload.startswith(b'{"type":"connection"'):
        client.state["received"] += 1
        client.state["at"] = time.time()


async def _open_stalled(port: int, channel: str) -> LeanClient:
    """A subscriber that stops reading after its connection event; records when it sees its close."""
    client = await open_client(
        HOST, port, f"/websocket?channel_id={channel}", _count_stalled, read=False, state={"received": 0, "at": 0.0}
    )
    client.closed.add_done_callback(lambda _: client.state.setdefault("closed_at", time.time()))
    return client


async def _stalled_outcome(client: LeanClient, events: int, timeout: float = 20) -> tuple[int | str | None, float]:
    """Once a stalled subscriber reads again: its close code (None for a drop without a close frame) and
    when it saw the close, or "still open" and NaN if it read every message and then nothing for a second,
    or was not closed within ``timeout`` seconds."""
    deadline = time.time() + timeout
    state = client.state
    while not client.closed.done() and time.time() < deadline:
        if state["received"] >= events and time.time() - state["at"] > 1:
            break
        await asyncio.wait({client.closed}, timeout=0.05)
    if client.closed.done():
        return client.closed.result(), state.get("closed_at", time.time())
    return "still open", float("nan")


async def fanout_subscribers(
    port: int, count: int, events: int, channel: str, slow: int, hold: float, results: Any, go: Any
) -> dict[str, Any]:
    """``count`` subscribers reading every message, plus ``slow`` that stop reading after their connection
    event and read again once the others are done and ``hold`` seconds have passed (STALL_MAX at most);
    subscribers the server closes are counted, with their close codes, and are no longer waited for."""
    received = [0] * count
    last = [-1] * count
    duplicates = [0]
    disorder = [0]
    latencies: list[float] = []
    first_last = [float("inf"), 0.0]
    complete = asyncio.Event()
    done_count = [0]  # subscribers with every message, or closed by the server before that
    closed: dict[int, int | None] = {}  # slot -> close code, for the subscribers the server closed
    ending = [False]  # set when this worker closes its subscribers itself
    clients: list[LeanClient] = []

    def on_text(client: LeanClient, payload: bytes) -> None:
        index = client.state.get("index")
        if index is None:
            if payload.startswith(b'{"type":"connection"'):
                client.state["index"] = client.state["slot"]
            return
        now = time.time()
        message = orjson.loads(payload)
        seq = message.get("seq") if isinstance(message, dict) else None
        if seq is None:  # not a channel message (an error or a notice before a close)
            return
        if seq <= last[index]:
            duplicates[0] += 1
        elif seq != last[index] + 1:
            disorder[0] += 1
        last[index] = max(last[index], seq)
        received[index] += 1
        if seq % 10 == 0:
            latencies.append(now - message["t"])
        first_last[0] = min(first_last[0], now)
        first_last[1] = now
        if received[index] == events:
            finished()

    def finished() -> None:
        done_count[0] += 1
        if done_count[0] == count:
            complete.set()

    def on_close(slot: int, future: asyncio.Future[int | None]) -> None:
        if ending[0]:
            return
        closed[slot] = future.result()
        if received[slot] < events:  # it will get no more: stop waiting for it
            finished()

    semaphore = asyncio.Semaphore(100)

    async def connect(slot: int) -> None:
        async with semaphore:
            client = await open_client(HOST, port, f"/websocket?channel_id={channel}", on_text, state={"slot": slot})
            client.closed.add_done_callback(lambda future: on_close(slot, future))
            clients.append(client)

    await asyncio.gather(*(connect(i) for i in range(count)))
    slow_clients = [await _open_stalled(port, channel) for _ in range(slow)]
    deadline = time.time() + 60
    while sum(1 for c in clients if "index" in c.state) < count:
        if time.time() > deadline:
            raise RuntimeError("subscribers did not all get their connection event")
        await asyncio.sleep(0.01)
    results.put(("ready", count))
    cpu_start = await _wait_go(go)
    go_at = time.time()
    # What did not arrive counts as lost. The stalled subscribers read again when the others are done and
    # ``hold`` seconds have passed, or after STALL_MAX seconds at most, and then expect the server's close
    # behind what was buffered for them.
    healthy = asyncio.ensure_future(_until(complete, lambda: first_last[1]))
    await asyncio.wait({healthy}, timeout=STALL_MAX)
    if slow_clients:
        await asyncio.sleep(max(0.0, go_at + min(hold, STALL_MAX) - time.time()))
    resumed_at = time.time()
    for client in slow_clients:
        client.resume()
    await healthy
    cpu = cpu_now() - cpu_start
    slow_outcomes = await asyncio.gather(*(_stalled_outcome(client, events) for client in slow_clients))
    ending[0] = True
    for client in clients + slow_clients:
        client.close()
    codes: dict[str, int] = {}
    for code in closed.values():
        codes[str(code)] = codes.get(str(code), 0) + 1
    return {
        "received": sum(received),
        "duplicates": duplicates[0],
        "disorder": disorder[0],
        "latencies": latencies,
        "first": first_last[0],
        "last": first_last[1],
        "closed": len(closed),
        "close_codes": codes,
        "complete": sum(1 for n in received if n >= events),
        "slow_close_codes": [code for code, _ in slow_outcomes],
        "slow_closed_at": [at for _, at in slow_outcomes],
        "slow_received": [client.state["received"] for client in slow_clients],
        "slow_resumed_at": [resumed_at for _ in slow_clients],
        "cpu": cpu,
    }


async def _drained(client: LeanClient, timeout: float) -> bool:
    """Wait until ``client`` may write again; False if its connection closed first or ``timeout`` passed."""
    drain = asyncio.ensure_future(client.drain())
    either: set[asyncio.Future[Any]] = {drain, client.closed}
    await asyncio.wait(either, timeout=max(timeout, 0), return_when=asyncio.FIRST_COMPLETED)
    writable = drain.done() and not client.closed.done()
    drain.cancel()
    return writable


async def publish(
    port: int, events: int, channel: str, payload: int, rate: float | None = None, limit: float = 240
) -> tuple[LeanClient, float, int]:
    """Publish ``events`` channel events, as fast as the server reads them or at ``rate`` per second.

    Returns the publisher, still open, when the first event was sent and how many were sent: fewer if the
    server closed the publisher or did not take them all within ``limit`` seconds.
    """
    publisher = await open_client(HOST, port, "/websocket", lambda c, p: None)
    pad = "x" * payload
    start = time.time()
    deadline = start + limit
    sent = 0
    for seq in range(events):
        event = {"type": "channel", "channel_ids": [channel], "data": {"seq": seq, "t": time.time(), "pad": pad}}
        try:
            publisher.send_text(orjson.dumps(event))
        except InvalidState:  # the server is closing the publisher
            break
        sent += 1
        if not await _drained(publisher, deadline - time.time()):
            break
        if rate is not None:
            ahead = start + (seq + 1) / rate - time.time()
            if ahead > 0:
                await asyncio.sleep(ahead)
    if not publisher.closed.done():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(publisher.flushed(), max(deadline - time.time(), 1))
    return publisher, start, sent


async def publish_until(
    finish: Callable[[], list[dict[str, Any]]],
    port: int,
    events: int,
    channel: str,
    payload: int,
    rate: float | None = None,
) -> tuple[float, int, list[dict[str, Any]]]:
    """Publish, then stay connected (reading, answering pings) until ``finish()`` returns, then close.

    What the publisher has flushed may still wait, unread, in the server's socket buffers: closed
    sooner, its socket would answer the server's next ping with a reset, which drops that data.
    """
    publisher, start, sent = await publish(port, events, channel, payload, rate)
    try:
        done = await asyncio.get_running_loop().run_in_executor(None, finish)
    finally:
        publisher.close()
    return start, sent, done


def fanout(
    server: ServerProcess,
    subscribers: int,
    events: int,
    processes: int,
    payload: int = 0,
    slow: int = 0,
    rate: float | None = None,
    hold: float = 0,
) -> dict[str, Any]:
    """``subscribers`` on one channel (and ``slow`` stalled ones, which stay stalled ``hold`` seconds at
    least) and one publisher sending them ``events`` messages of ``payload`` bytes."""
    channel = "bench-room"
    shares = split(subscribers, processes)
    workers = Workers(
        fanout_subscribers,
        [(server.port, n, events, channel, slow if i == 0 else 0, hold) for i, n in enumerate(shares)],
    )
    workers.start()
    rss_before = server.memory()
    cpu_before, wall_before = server.cpu(), time.time()
    workers.go.set()
    start, published, done = asyncio.run(publish_until(workers.finish, server.port, events, channel, payload, rate))
    cpu, wall = server.cpu() - cpu_before, time.time() - wall_before
    received = sum(d["received"] for d in done)
    last = max(d["last"] for d in done)
    codes: dict[str, int] = {}
    for d in done:
        for code, n in d["close_codes"].items():
            codes[code] = codes.get(code, 0) + n
    latencies = [x for d in done for x in d["latencies"]]
    expected = subscribers * events
    return {
        "delivered_per_s": received / (last - start) if last > start else 0.0,
        "delivered": received,
        "loss": expected - received,
        "duplicates": sum(d["duplicates"] for d in done),
        "reordered": sum(d["disorder"] for d in done),
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "server_cpu_pct": 100 * cpu / wall,
        "load_cpu_pct_per_process": 100 * sum(d["cpu"] for d in done) / processes / wall,
        "server_rss_growth_mb": (server.memory() - rss_before) / 2**20,
        "slow_close_codes": [c for d in done for c in d["slow_close_codes"]],
        # below: not in the fanout table (FANOUT_FIGURES); the slow and flood scenarios report some
        "published": published,
        "closed_by_server": sum(d["closed"] for d in done),
        "close_codes": codes,
        "complete": sum(d["complete"] for d in done),
        "seconds": last - start if last > start else float("nan"),
        "run_s": wall,
        # when the stalled subscribers saw their close and read again, from the first publish
        "slow_close_seen_s": [round(at - start, 1) for d in done for at in d["slow_closed_at"]],
        "slow_read_again_s": [round(at - start, 1) for d in done for at in d["slow_resumed_at"]],
        "slow_received": [n for d in done for n in d["slow_received"]],
    }


FANOUT_FIGURES = (
    "delivered_per_s",
    "delivered",
    "loss",
    "duplicates",
    "reordered",
    "p50_ms",
    "p99_ms",
    "server_cpu_pct",
    "load_cpu_pct_per_process",
    "server_rss_growth_mb",
    "slow_close_codes",
)


# -- scenario: walker round trips ----------------------------------------------------------------


async def walker_callers(port: int, count: int, calls: int, results: Any, go: Any) -> dict[str, Any]:
    latencies: list[float] = []
    finished = asyncio.Event()
    remaining = [count]

    def on_text(client: LeanClient, payload: bytes) -> None:
        state = client.state
        if not state.get("open"):
            state["open"] = True
            return
        now = time.perf_counter()
        latencies.append(now - state["sent"])
        state["done"] += 1
        if state["done"] == calls:
            remaining[0] -= 1
            if remaining[0] == 0:
                finished.set()
            return
        send(client)

    def send(client: LeanClient) -> None:
        n = client.state["done"]
        client.state["sent"] = time.perf_counter()
        event = {"type": "walker", "walker": "echo", "context": {"n": n}, "response": True, "id": n}
        client.send_text(orjson.dumps(event))

    clients = [await open_client(HOST, port, "/websocket", on_text, state={"done": 0}) for _ in range(count)]
    results.put(("ready", count))
    cpu_start = await _wait_go(go)
    start = time.perf_counter()
    for client in clients:
        send(client)
    await asyncio.wait_for(finished.wait(), timeout=300)
    elapsed = time.perf_counter() - start
    cpu = cpu_now() - cpu_start
    for client in clients:
        client.close()
    return {"calls": count * calls, "elapsed": elapsed, "latencies": latencies, "cpu": cpu}


def walkers(server: ServerProcess, clients: int, calls: int, processes: int) -> dict[str, Any]:
    workers = Workers(walker_callers, [(server.port, n, calls) for n in split(clients, processes)])
    workers.start()
    cpu_before, wall_before = server.cpu(), time.time()
    done = workers.finish()
    cpu, wall = server.cpu() - cpu_before, time.time() - wall_before
    latencies = [x for d in done for x in d["latencies"]]
    elapsed = max(d["elapsed"] for d in done)
    return {
        "round_trips_per_s": sum(d["calls"] for d in done) / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "server_cpu_pct": 100 * cpu / wall,
        "load_cpu_pct_per_process": 100 * sum(d["cpu"] for d in done) / processes / elapsed,
    }


# -- scenario: connection rate, idle memory, many connections --------------------------------------


async def connectors(port: int, count: int, concurrency: int, release: Any, results: Any, go: Any) -> dict[str, Any]:
    results.put(("ready", count))
    cpu_start = await _wait_go(go)
    semaphore = asyncio.Semaphore(concurrency)
    clients: list[LeanClient] = []
    failures = [0]

    def on_text(client: LeanClient, payload: bytes) -> None:
        if not client.state.get("connected"):
            client.state["connected"] = True
            client.state["event"].set()

    async def connect() -> None:
        async with semaphore:
            try:
                client = await open_client(
                    HOST, port, "/websocket", on_text, timeout=60, state={"event": asyncio.Event()}
                )
                if not client.state.get("connected"):
                    await asyncio.wait_for(client.state["event"].wait(), 60)
                clients.append(client)
            except Exception:
                failures[0] += 1

    start = time.perf_counter()
    await asyncio.gather(*(connect() for _ in range(count)))
    elapsed = time.perf_counter() - start
    cpu = cpu_now() - cpu_start
    results.put(("held", len(clients)))
    while not release.is_set():  # the parent measures the server's memory meanwhile
        await asyncio.sleep(0.05)
    for client in clients:
        client.close()
    return {"connected": len(clients), "failures": failures[0], "elapsed": elapsed, "cpu": cpu}


def connections(server: ServerProcess, count: int, processes: int, concurrency: int = 50) -> dict[str, Any]:
    release = CTX.Event()
    time.sleep(0.5)
    rss_before = server.memory()
    workers = Workers(connectors, [(server.port, n, concurrency, release) for n in split(count, processes)])
    workers.start()
    workers.go.set()
    held = sum(workers._get("held", 300) for _ in workers.shares)
    time.sleep(1.0)  # let the server settle before reading its memory
    rss_held = server.memory()
    release.set()
    done = workers.finish()
    elapsed = max(d["elapsed"] for d in done)
    return {
        "connections_per_s": held / elapsed,
        "held": held,
        "failures": sum(d["failures"] for d in done),
        "kb_per_idle_connection": (rss_held - rss_before) / max(held, 1) / 1024,
        "server_rss_mb": rss_held / 2**20,
        "load_cpu_pct_per_process": 100 * sum(d["cpu"] for d in done) / processes / elapsed,
    }


# -- running -------------------------------------------------------------------------------------


SIZES = {
    "full": {
        "fanout": (500, 200),
        "walkers": (50, 400),
        "connect": 2000,
        "idle10k": 10000,
        "slow": (50, 5000, 8192, 1000),
        "flood": (200, 3000, 8192),
    },
    "quick": {
        "fanout": (100, 50),
        "walkers": (10, 50),
        "connect": 200,
        "idle10k": 1000,
        "slow": (20, 3000, 8192, 1000),
        "flood": (50, 3000, 8192),
    },
}


def scenario(name: str, server: ServerProcess, size: dict[str, Any], processes: int) -> dict[str, Any]:
    if name == "fanout":
        subscribers, events = size["fanout"]
        figures = fanout(server, subscribers, events, processes)
        return {key: figures[key] for key in FANOUT_FIGURES}
    if name == "walkers":
        clients, calls = size["walkers"]
        return walkers(server, clients, calls, processes)
    if name == "connect":
        return connections(server, size["connect"], processes)
    if name == "idle10k":
        return connections(server, size["idle10k"], processes, concurrency=200)
    if name == "slow":
        # Paced so that healthy subscribers keep up: one that cannot is, by definition, slow too.
        subscribers, events, payload, rate = size["slow"]
        clean = fanout(server, subscribers, events, processes, payload, rate=rate)
        with_slow = fanout(server, subscribers, events, processes, payload, slow=1, rate=rate)
        return {
            "healthy_per_s_without_slow": clean["delivered_per_s"],
            "healthy_per_s_with_slow": with_slow["delivered_per_s"],
            "with_slow_vs_without": with_slow["delivered_per_s"] / clean["delivered_per_s"],
            "healthy_loss": with_slow["loss"],
            "slow_close_codes": with_slow["slow_close_codes"],
            "server_rss_growth_mb": with_slow["server_rss_growth_mb"],
            "server_peak_rss_mb": server.memory("VmHWM") / 2**20,
        }
    if name == "flood":
        subscribers, events, payload = size["flood"]
        return flood(server, subscribers, events, payload, processes)
    raise ValueError(name)


# The flood's stalled subscriber stays stalled this long at least: past jacws's slow-consumer grace (5 s),
# so that it is closed before it reads again even when the others are done sooner.
FLOOD_HOLD = 10.0


def flood(server: ServerProcess, subscribers: int, events: int, payload: int, processes: int) -> dict[str, Any]:
    """A publisher sending ``events`` messages of ``payload`` bytes as fast as the server reads them (no
    pacing) to ``subscribers`` that read everything and one more that stops reading after connecting.

    A well-behaved server closes none of the reading subscribers (``healthy_closed``), delivers them every
    message (``healthy_complete`` all, ``healthy_loss`` 0) and closes the stalled one (1008 for jacws).
    The stalled subscriber sees its close only once it reads again (``slow_read_again_s`` after the
    first publish: when the others are done and FLOOD_HOLD seconds have passed, STALL_MAX at most), so
    ``slow_close_seen_s`` is an upper bound on when the server closed it.
    """
    run = fanout(server, subscribers, events, processes, payload, slow=1, hold=FLOOD_HOLD)
    return {
        "healthy_closed": run["closed_by_server"],
        "healthy_close_codes": run["close_codes"],
        "healthy_complete": run["complete"],
        "healthy_loss": run["loss"],
        "published": run["published"],
        "delivered_per_s": run["delivered_per_s"],
        "seconds": run["seconds"],
        "run_s": run["run_s"],
        "slow_close_codes": run["slow_close_codes"],
        "slow_close_seen_s": run["slow_close_seen_s"],
        "slow_read_again_s": run["slow_read_again_s"],
        "slow_received": run["slow_received"],
        "server_cpu_pct": run["server_cpu_pct"],
        "server_peak_rss_mb": server.memory("VmHWM") / 2**20,
    }


def show(name: str, base: dict[str, Any], ours: dict[str, Any]) -> None:
    print(f"\n== {name}")
    print(f"{'metric':34} {'baseline':>14} {'jacws':>14} {'ratio':>8}")
    for key in base:
        a, b = base[key], ours.get(key)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            ratio = f"{b / a:8.2f}" if a else "      -"
            print(f"{key:34} {a:14.1f} {b:14.1f} {ratio}")
        else:
            print(f"{key:34} {a!s:>14} {b!s:>14}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="fanout,walkers,connect,idle10k,slow,flood")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--servers", default="baseline,jacws")
    args = parser.parse_args()
    raise_fd_limit()
    size = SIZES["quick" if args.quick else "full"]
    print(
        f"jacws benchmarks · {os.cpu_count()} cores · {args.processes} load processes · python {sys.version.split()[0]}"
    )
    for name in args.only.split(","):
        figures: dict[str, dict[str, Any]] = {}
        for kind in args.servers.split(","):
            server = ServerProcess(kind)
            try:
                figures[kind] = scenario(name, server, size, args.processes)
            finally:
                server.stop()
        kinds = list(figures)
        show(name, figures[kinds[0]], figures[kinds[-1]])


if __name__ == "__main__":
    main()

"""Benchmarks: jacws against a bare `websockets` baseline, side by side in one run.

    python bench/run.py                      # every scenario at the sizes of bench/RESULTS.md
    python bench/run.py --only fanout,slow   # some scenarios
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

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

    def __init__(self, kind: str) -> None:
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
            ]
        # The benchmarks' publishers send far above jacws's default per-connection rate
        # limit (1000 messages/s), which the baseline does not have: lift it for a fair race.
        # The slow-consumer scenario's stalled client reads again only after the run (about 5 s);
        # a longer close timeout lets it still see its 1008 instead of being dropped unread.
        env = {
            **os.environ,
            "JACWS_RATE_PER_SECOND": "1000000",
            "JACWS_RATE_BURST": "1000000",
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


async def fanout_subscribers(
    port: int, count: int, events: int, channel: str, slow: int, results: Any, go: Any
) -> dict[str, Any]:
    received = [0] * count
    last = [-1] * count
    duplicates = [0]
    disorder = [0]
    latencies: list[float] = []
    first_last = [float("inf"), 0.0]
    complete = asyncio.Event()
    done_count = [0]
    clients: list[LeanClient] = []

    def on_text(client: LeanClient, payload: bytes) -> None:
        index = client.state.get("index")
        if index is None:
            if payload.startswith(b'{"type":"connection"'):
                client.state["index"] = client.state["slot"]
            return
        now = time.time()
        message = orjson.loads(payload)
        seq = message["seq"]
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
            done_count[0] += 1
            if done_count[0] == count:
                complete.set()

    semaphore = asyncio.Semaphore(100)

    async def connect(slot: int) -> None:
        async with semaphore:
            client = await open_client(HOST, port, f"/websocket?channel_id={channel}", on_text, state={"slot": slot})
            clients.append(client)

    await asyncio.gather(*(connect(i) for i in range(count)))
    slow_clients = [
        await open_client(HOST, port, f"/websocket?channel_id={channel}", lambda c, p: None, read=False)
        for _ in range(slow)
    ]
    while sum(1 for c in clients if "index" in c.state) < count:
        await asyncio.sleep(0.01)
    results.put(("ready", count))
    cpu_start = await _wait_go(go)
    with contextlib.suppress(asyncio.TimeoutError):  # what did not arrive counts as lost
        await asyncio.wait_for(complete.wait(), timeout=120)
    cpu = cpu_now() - cpu_start
    slow_codes = []
    for client in slow_clients:
        client.resume()  # read what was buffered, then expect the server's close
        try:
            slow_codes.append(await asyncio.wait_for(client.closed, timeout=20))
        except asyncio.TimeoutError:
            slow_codes.append("still open")
    for client in clients + slow_clients:
        client.close()
    return {
        "received": sum(received),
        "duplicates": duplicates[0],
        "disorder": disorder[0],
        "latencies": latencies,
        "first": first_last[0],
        "last": first_last[1],
        "slow_close_codes": slow_codes,
        "cpu": cpu,
    }


async def publish(port: int, events: int, channel: str, payload: int, rate: float | None = None) -> float:
    """Publish ``events`` channel events, as fast as the server reads them or at ``rate`` per second."""
    publisher = await open_client(HOST, port, "/websocket", lambda c, p: None)
    pad = "x" * payload
    start = time.time()
    for seq in range(events):
        event = {"type": "channel", "channel_ids": [channel], "data": {"seq": seq, "t": time.time(), "pad": pad}}
        publisher.send_text(orjson.dumps(event))
        await publisher.drain()
        if rate is not None:
            ahead = start + (seq + 1) / rate - time.time()
            if ahead > 0:
                await asyncio.sleep(ahead)
    await publisher.flushed()
    publisher.close()
    return start


def fanout(
    server: ServerProcess,
    subscribers: int,
    events: int,
    processes: int,
    payload: int = 0,
    slow: int = 0,
    rate: float | None = None,
) -> dict[str, Any]:
    channel = "bench-room"
    shares = split(subscribers, processes)
    workers = Workers(
        fanout_subscribers, [(server.port, n, events, channel, slow if i == 0 else 0) for i, n in enumerate(shares)]
    )
    workers.start()
    rss_before = server.memory()
    cpu_before, wall_before = server.cpu(), time.time()
    workers.go.set()
    start = asyncio.run(publish(server.port, events, channel, payload, rate))
    done = workers.finish()
    cpu, wall = server.cpu() - cpu_before, time.time() - wall_before
    received = sum(d["received"] for d in done)
    last = max(d["last"] for d in done)
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
    }


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
    },
    "quick": {
        "fanout": (100, 50),
        "walkers": (10, 50),
        "connect": 200,
        "idle10k": 1000,
        "slow": (20, 3000, 8192, 1000),
    },
}


def scenario(name: str, server: ServerProcess, size: dict[str, Any], processes: int) -> dict[str, Any]:
    if name == "fanout":
        subscribers, events = size["fanout"]
        return fanout(server, subscribers, events, processes)
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
    raise ValueError(name)


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
    parser.add_argument("--only", default="fanout,walkers,connect,idle10k,slow")
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

"""Memory per stored node: `jacws serve` storing small nodes, on the in-memory store and on a file.

    python bench/memory.py                 # 5 runs x 10,000 nodes per store
    python bench/memory.py --runs 20       # more nodes: a file store should stay flat

Each store gets a fresh `jacws serve bench/memory_walkers.py` process. After a warm-up run, each run
connects 10,000 small nodes to the root over REST; the process's resident memory (from /proc) is read
before, at its peak, and once it settles after the runs. The reference is what the data itself costs:
the SQLite file's bytes per stored node (node row, edge row and their indexes).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
WALKERS = Path(__file__).with_name("memory_walkers.py")
NODES = 10_000
WARM_UP = 1_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def measure(db: str | None, runs: int) -> dict[str, float]:
    port = free_port()
    command = [sys.executable, "-m", "jacws.cli", "serve", str(WALKERS), "--port", str(port), "--log-level", "warning"]
    if db:
        command += ["--db", db]
    server = subprocess.Popen(command, cwd=ROOT)
    peak = [0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.02):
            peak[0] = max(peak[0], rss(server.pid))

    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            for _ in range(300):
                try:
                    http.get("/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            http.post("/walker/add_items", json={"count": WARM_UP}).raise_for_status()
            time.sleep(2)  # what the warm-up freed goes back
            base = rss(server.pid)
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            started = time.monotonic()
            for _ in range(runs):
                http.post("/walker/add_items", json={"count": NODES}).raise_for_status()
            seconds = time.monotonic() - started
            time.sleep(3)  # freed memory goes back within a second or so
            settled = rss(server.pid)
            stop.set()
            watcher.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    nodes = runs * NODES
    return {
        "nodes": nodes,
        "base_mb": base / 2**20,
        "peak_mb": peak[0] / 2**20,
        "settled_mb": settled / 2**20,
        "bytes_per_node": (settled - base) / nodes,
        "nodes_per_s": nodes / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of 10,000 nodes per store (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = os.path.join(folder, "nodes.db")
        memory = measure(None, args.runs)
        file = measure(db, args.runs)
        stored = sum(os.path.getsize(p) for p in Path(folder).glob("nodes.db*") if not p.name.endswith("secret"))
    row = stored / (args.runs * NODES + WARM_UP)
    print(f"jacws memory per stored node · {args.runs} runs x {NODES:,} nodes · python {sys.version.split()[0]}")
    print(f"reference: the SQLite file holds {row:.0f} bytes per node (node row, edge row, indexes)\n")
    print(f"{'store':<8}{'nodes':>8}{'base MB':>9}{'peak MB':>9}{'after MB':>10}", end="")
    print(f"{'bytes/node':>12}{'x row':>7}{'nodes/s':>10}")
    for name, figures in (("memory", memory), ("file", file)):
        print(
            f"{name:<8}{figures['nodes']:>8,.0f}{figures['base_mb']:>9.0f}{figures['peak_mb']:>9.0f}"
            f"{figures['settled_mb']:>10.0f}{figures['bytes_per_node']:>12.0f}"
            f"{figures['bytes_per_node'] / row:>7.2f}{figures['nodes_per_s']:>10,.0f}"
        )


if __name__ == "__main__":
    main()

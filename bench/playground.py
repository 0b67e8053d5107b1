"""Playground display benchmark: what JupyterLab shows while a cell sends a burst, jacws against a bare server.

    python bench/playground.py                 # 5,000 channel messages to 3 cards, both servers
    python bench/playground.py --messages 2000
    python bench/playground.py --headless      # no browser: clients' throughput with an undisplayed Playground

JupyterLab runs in headless Chromium (Debian's chromium, driven by Playwright). A cell opens
three simulated clients on one channel with a Playground (three cards and the flow view),
then a second cell sends a burst of channel messages from one of them and blocks until every
client has the last one, as a reader's cell would. Meanwhile the page is sampled every 50 ms:
how many messages the flow view and the cards show, and how long each animation frame took.

Two runs in one invocation, identical but for the server the clients talk to:
- baseline: bench/baseline.py (a bare `websockets` server) in its own process;
- jacws: `jacws.start()` inside the notebook's kernel, as the tutorials run it.

Figures: messages per second the playground showed while the cell was blocked, the share
shown when the cell ended and how long the rest took, the frame delay (p50, p95, max) while
the burst was shown, and the cell's own duration.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from jupyter import CHROMIUM, CHROMIUM_ARGS, KERNEL_BUSY, KERNEL_IDLE, JupyterLab, append_and_run, free_port  # noqa: E402

FRAMES = """() => {
  window.__jacwsFrames = [];
  let last = performance.now();
  const tick = (now) => { window.__jacwsFrames.push(now - last); last = now; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""
SAMPLE = """() => {
  const caption = document.querySelector(".jacws-flow-caption");
  const flows = caption ? parseInt(caption.textContent, 10) || 0 : 0;
  const received = [...document.querySelectorAll(".jacws-count")]
    .map((el) => parseInt((el.textContent.match(/(\\d+) received/) || [0, 0])[1], 10));
  const widget = window.jupyterapp.shell.currentWidget;
  const kernel = widget.sessionContext.session.kernel;
  return { at: performance.now(), flows, received, busy: kernel.status !== "idle" };
}"""
SETUP = """
import jacws
from jacws.client import Client
from jacws.widgets import Playground

KIND, WS_URL = {kind!r}, {ws_url!r}
if KIND == "jacws":
    server = jacws.start(rate_per_second=1_000_000, rate_burst=1_000_000)
    WS_URL = server.ws_url
else:
    server = None
clients = [Client(WS_URL, channel_id="bench", name=f"client-{{n}}") for n in range(3)]
Playground(server, clients)
"""
BURST = """
import time
started = time.perf_counter()
sender = clients[0]
for n in range({messages}):
    sender.channel(["bench"], {{"type": "tick", "n": n}})
for client in clients:
    client.wait_for(lambda m: m.get("n") == {messages} - 1, timeout=300)
print(f"cell {{time.perf_counter() - started:.3f}} s")
"""


def notebook_folder() -> Path:
    """A temporary folder with an empty notebook on the python3 kernel."""
    folder = Path(tempfile.mkdtemp(prefix="jacws-bench-"))
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    notebook = {"cells": [], "metadata": kernel, "nbformat": 4, "nbformat_minor": 5}
    (folder / "nb").mkdir()
    (folder / "nb" / "bench.ipynb").write_text(json.dumps(notebook))
    return folder


def run_cell(page: Page, source: str) -> None:
    """Append a code cell, run it, and return once the kernel is idle again."""
    append_and_run(page, source)
    page.wait_for_function(KERNEL_BUSY, timeout=10_000)
    page.wait_for_function(KERNEL_IDLE, timeout=600_000)


def measure(lab: JupyterLab, kind: str, ws_url: str, messages: int, page: Page) -> dict[str, Any]:
    page.goto(lab.url("bench.ipynb"))
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    run_cell(page, SETUP.format(kind=kind, ws_url=ws_url))
    page.wait_for_selector(".jacws-flow-caption", timeout=60_000)
    page.evaluate(FRAMES)
    total = messages * 4  # one send and three receipts per message
    samples: list[dict[str, Any]] = []
    append_and_run(page, BURST.format(messages=messages))
    deadline = time.monotonic() + 600
    started = None
    while time.monotonic() < deadline:
        sample = page.evaluate(SAMPLE)
        samples.append(sample)
        if started is None and sample["busy"]:
            started = sample
        if started is not None and not sample["busy"] and sample["flows"] >= total:
            break
        page.wait_for_timeout(50)
    frames = page.evaluate("() => window.__jacwsFrames.splice(0)")
    busy = [s for s in samples if s["busy"]]
    ended = busy[-1] if busy else samples[-1]
    caught_up = next((s for s in samples if s["flows"] >= total and min(s["received"] or [0]) >= messages), samples[-1])
    cell_seconds = (ended["at"] - (started or ended)["at"]) / 1000
    shown_during = ended["flows"] - (started or ended)["flows"]
    during = [f for f in frames if f > 0] or [0.0]  # every frame from the burst's start to the catch-up
    return {
        "shown_per_s_while_blocked": shown_during / cell_seconds if cell_seconds > 0 else 0.0,
        "shown_at_cell_end_pct": 100.0 * ended["flows"] / total,
        "catch_up_after_cell_s": max(0.0, (caught_up["at"] - ended["at"]) / 1000),
        "frame_p50_ms": statistics.median(during),
        "frame_p95_ms": statistics.quantiles(during, n=20)[-1] if len(during) >= 20 else max(during),
        "frame_max_ms": max(during),
        "cell_s": cell_seconds,
        "samples_while_blocked": len(busy),
    }


def headless_burst(ws_url: str, messages: int, server: Any, playground: bool) -> float:
    """Seconds for three clients to see a burst, with or without a Playground displayed to no one."""
    from jacws.client import Client
    from jacws.widgets import Playground

    channel = f"bench-{secrets.token_hex(3)}"
    clients = [Client(ws_url, channel_id=channel, name=f"client-{n}") for n in range(3)]
    play = Playground(server, clients) if playground else None
    if play is not None:
        play.start()  # displayed (to no one, as under nbclient): the views follow the clients
    started = time.perf_counter()
    for n in range(messages):
        clients[0].channel([channel], {"type": "tick", "n": n})
    for client in clients:
        client.wait_for(lambda m: m.get("n") == messages - 1, timeout=300)
    elapsed = time.perf_counter() - started
    if play is not None:
        play.flush()
        assert play.flow.total == messages * 4 + 3  # and the three connection events
    for client in clients:
        client.close()
    return elapsed


def headless(messages: int) -> None:
    """Clients' throughput with and without a Playground displayed to no one (as under nbclient)."""
    import jacws

    baseline_port = free_port()
    baseline = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "baseline.py"), "--port", str(baseline_port)],
        stdout=subprocess.DEVNULL,
    )
    server = jacws.start(rate_per_second=1_000_000, rate_burst=1_000_000)
    rows: dict[str, dict[str, float]] = {}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", baseline_port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        targets = {"baseline": (f"ws://127.0.0.1:{baseline_port}/", None), "jacws": (server.ws_url, server)}
        for kind, (url, handle) in targets.items():
            headless_burst(url, 500, handle, True)  # warm-up
            plain = headless_burst(url, messages, handle, False)
            watched = headless_burst(url, messages, handle, True)
            rows[kind] = {"clients_msgs_per_s": messages * 3 / plain, "with_playground": messages * 3 / watched}
    finally:
        server.stop()
        baseline.terminate()
        baseline.wait(timeout=20)
    print(f"headless · {messages} channel messages to 3 clients, a Playground displayed to no one (nbclient)")
    print(f"{'metric':32} {'baseline':>12} {'jacws':>12} {'ratio':>8}")
    for metric in ("clients_msgs_per_s", "with_playground"):
        base, ours = rows["baseline"][metric], rows["jacws"][metric]
        print(f"{metric:32} {base:12.1f} {ours:12.1f} {ours / base:8.2f}")
    for kind, row in rows.items():
        kept = 100 * row["with_playground"] / row["clients_msgs_per_s"]
        print(f"{kind}: the playground displayed to no one keeps {kept:.0f} % of the clients' throughput")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--headless", action="store_true", help="no browser: clients' throughput with a Playground")
    args = parser.parse_args()
    if args.headless:
        headless(args.messages)
        return
    folder = notebook_folder()
    lab = JupyterLab(folder, folder / "nb")
    baseline_port = free_port()
    baseline = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "baseline.py"), "--port", str(baseline_port)],
        stdout=subprocess.DEVNULL,
    )
    results: dict[str, dict[str, Any]] = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for kind in ("baseline", "jacws"):
                context = browser.new_context(viewport={"width": 1600, "height": 1000})
                page = context.new_page()
                results[kind] = measure(lab, kind, f"ws://127.0.0.1:{baseline_port}/", args.messages, page)
                page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")
                context.close()
            browser.close()
    finally:
        baseline.terminate()
        baseline.wait(timeout=20)
        lab.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"jacws playground benchmark · {args.messages} channel messages to 3 cards and the flow view")
    print(f"{'metric':32} {'baseline':>12} {'jacws':>12} {'ratio':>8}")
    for metric in results["baseline"]:
        base, ours = results["baseline"][metric], results["jacws"][metric]
        ratio = f"{ours / base:.2f}" if base else "-"
        print(f"{metric:32} {base:12.1f} {ours:12.1f} {ratio:>8}")


if __name__ == "__main__":
    main()

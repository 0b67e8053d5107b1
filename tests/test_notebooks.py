"""Every tutorial notebook runs top to bottom on a fresh kernel, stays live, and leaves nothing behind its kernel."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import nbformat
import pytest
from conftest import JAC
from nbclient import NotebookClient

LIVE_STATE = """
import json, os, pathlib
import jacws.server
servers = list(jacws.server._started)
tasks = pathlib.Path("/proc/self/task").iterdir()
children = [int(pid) for task in tasks for pid in (task / "children").read_text().split()]
print(json.dumps({
    "pid": os.getpid(),
    "ports": [server.port for server in servers],
    "clients": [client.state.value for server in servers for client in server.clients],
    "children": children,
}))
"""
NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
JAC_NOTEBOOKS = [path for path in NOTEBOOKS if "_jac" in path.stem]
"""Need jaclang (Python 3.12+): run here where it is, and by test_jac_env.py from older Pythons."""
RUNNABLE = [
    pytest.param(path, id=path.stem, marks=[pytest.mark.jac] if path in JAC_NOTEBOOKS else [])
    for path in NOTEBOOKS
    if JAC or path not in JAC_NOTEBOOKS
]


def test_the_tutorials_are_numbered_and_indexed() -> None:
    names = [path.name for path in NOTEBOOKS]
    assert names[0] == "00_index.ipynb" and len(names) >= 6
    index = NOTEBOOKS[0].read_text()
    for name in names[1:]:
        assert name in index, f"{name} is missing from the index"


@pytest.mark.parametrize("path", RUNNABLE)
def test_notebook_runs_on_a_fresh_kernel_stays_live_and_leaves_nothing_behind(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert "server.stop()" not in code[-1].source, "Run All must leave the playground live"
    # After the notebook's own cells, in the same kernel: what is still running.
    notebook.cells.append(nbformat.v4.new_code_cell(LIVE_STATE))
    client = NotebookClient(
        notebook, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell; shuts the kernel down at the end
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    live = json.loads(notebook.cells[-1].outputs[0]["text"])
    starts = "jacws.start(" in "".join(cell.source for cell in code)
    if starts:  # alive after Run All: every server running, every client open
        assert live["ports"] and live["clients"] and set(live["clients"]) == {"open"}, live
    # Once the kernel is shut down: its process, its children (Redis) and the servers' ports are gone.
    for pid in [live["pid"], *live["children"]]:
        assert gone(pid, timeout=20), f"process {pid} outlived the kernel"
    for port in live["ports"]:
        with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
            probe.settimeout(5)
            probe.connect(("127.0.0.1", port))
    if "Playground(" in "".join(cell.source for cell in code):
        widget_views = [
            o
            for cell in code
            for o in cell.get("outputs", [])
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        ]
        assert widget_views, "the playground was not displayed"


def gone(pid: int, timeout: float) -> bool:
    """Whether process ``pid`` has exited (or does within ``timeout`` s); not our child, so /proc is watched."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):  # exited, waiting for its reaper
                    return True
        except FileNotFoundError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)  # another process's exit has no event to wait on

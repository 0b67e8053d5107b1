"""JupyterLab and Chromium for the browser tests and the playground benchmark: one way to start and drive each."""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

from playwright.sync_api import Page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
"""Debian's Chromium, driven by Playwright (no browser download)."""

CHROMIUM_ARGS = [  # headless as root, and no calls home (the network here is closed)
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

KERNEL_BUSY = "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status !== 'idle'"
KERNEL_IDLE = """() => {
  const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = widget && widget.sessionContext && widget.sessionContext.session
    && widget.sessionContext.session.kernel;
  return !!kernel && kernel.status === "idle";
}"""
APPEND_AND_RUN = """(source) => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  nb.model.sharedModel.insertCell(nb.model.sharedModel.cells.length, { cell_type: "code", source });
  nb.activeCellIndex = nb.widgets.length - 1;
  window.jupyterapp.commands.execute("notebook:run-cell");
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class JupyterLab:
    """JupyterLab on 127.0.0.1 and a free port, serving ``root``, with a settings folder of its own.

    Args:
        home: a folder of its own for settings, workspaces and runtime files.
        root: the folder it serves.
        env: more environment variables for the server and its kernels.
    """

    def __init__(self, home: Path, root: Path, env: dict[str, str] | None = None, timeout: float = 60) -> None:
        settings = home / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"checkForUpdates": False, "fetchNews": "false"})
        )
        environment = {
            **os.environ,
            "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            **(env or {}),
        }
        self.root = root
        self.port, self.token = free_port(), secrets.token_hex(16)
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
        ]  # fmt: skip
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        self.process = subprocess.Popen(command, env=environment, stderr=subprocess.PIPE, text=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.process.stderr or []], daemon=True).start()
        log: list[str] = []
        try:
            while f"127.0.0.1:{self.port}/lab" not in (line := lines.get(timeout=timeout)):
                log.append(line)
        except queue.Empty:
            self.stop()
            raise RuntimeError("JupyterLab did not start:\n" + "".join(log)) from None

    def url(self, notebook: str, workspace: str | None = None) -> str:
        """A notebook's URL in a workspace of its own (else JupyterLab reopens earlier pages' notebooks)."""
        name = workspace or secrets.token_hex(4)
        return f"http://127.0.0.1:{self.port}/lab/workspaces/{name}/tree/{notebook}?token={self.token}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)
        if self.process.stderr is not None:
            self.process.stderr.close()


def append_and_run(page: Page, source: str) -> None:
    """Append a code cell to the open notebook and start running it (without waiting for it)."""
    page.evaluate(APPEND_AND_RUN, source)

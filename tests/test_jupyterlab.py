"""End to end in a real browser: JupyterLab in headless Chromium runs the quickstart and drives its widgets."""

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
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
from playwright.sync_api import Browser, Page, expect

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
KERNEL_IDLE = """() => {
  const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = widget && widget.sessionContext && widget.sessionContext.session
    && widget.sessionContext.session.kernel;
  return !!kernel && kernel.status === "idle";
}"""
MESSAGE = "hello from chromium"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """JupyterLab on 127.0.0.1 serving a copy of the notebooks; yields the quickstart's URL with its token."""
    home = tmp_path_factory.mktemp("jupyter")
    shutil.copytree(ROOT / "notebooks", home / "notebooks")
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"checkForUpdates": False, "fetchNews": "false"})
    )
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        # As on Binder: the kernel's server.browser_url() then points through jupyter-server-proxy.
        "JUPYTERHUB_SERVICE_PREFIX": "/",
    }
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={home / 'notebooks'}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr or []], daemon=True).start()
    log: list[str] = []
    try:
        while True:
            line = lines.get(timeout=60)
            log.append(line)
            if f"127.0.0.1:{port}/lab" in line:
                break
        yield f"http://127.0.0.1:{port}/lab/tree/01_quickstart.ipynb?token={token}"
    except queue.Empty:
        pytest.fail("JupyterLab did not start:\n" + "".join(log))
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        if process.stderr is not None:
            process.stderr.close()


def run_command(page: Page, command: str) -> None:
    page.evaluate(f"() => window.jupyterapp.commands.execute({json.dumps(command)})")


def select_last_cell(page: Page) -> None:
    page.evaluate(
        "() => { const nb = window.jupyterapp.shell.currentWidget.content;"
        " nb.activeCellIndex = nb.widgets.length - 1; }"
    )


def test_quickstart_in_jupyterlab_sends_a_channel_message_from_a_card(jupyterlab: str, chromium: Browser) -> None:
    context = chromium.new_context(viewport={"width": 1600, "height": 1250})
    try:
        page = context.new_page()
        page.goto(jupyterlab)
        page.wait_for_function(KERNEL_IDLE, timeout=60_000)
        select_last_cell(page)
        run_command(page, "notebook:run-all-above")  # everything but the cell that stops the server
        cards = page.locator(".jacws-card")
        expect(cards).to_have_count(3, timeout=60_000)
        page.wait_for_function(KERNEL_IDLE, timeout=60_000)
        expect(page.get_by_text("hi from the guest").first).to_be_visible(timeout=30_000)

        alice, bob, guest = cards.nth(0), cards.nth(1), cards.nth(2)
        alice.locator(".lm-TabBar-tab", has_text="channel").first.click()
        alice.locator("textarea:visible").fill(json.dumps({"type": "chat", "data": {"message": MESSAGE}}))
        alice.get_by_role("button", name="send to channels").click()
        expect(bob).to_contain_text(MESSAGE, timeout=15_000)
        expect(guest).to_contain_text(MESSAGE, timeout=15_000)
        expect(page.locator(".jacws-flow svg")).to_contain_text("chat (channel lobby)", timeout=15_000)

        # The notebook's link to the browser client goes through jupyter-server-proxy.
        link = page.get_by_role("link", name="open the browser client")
        href = link.get_attribute("href")
        assert href is not None and href.startswith("/proxy/"), href
        proxied = context.new_page()
        proxied.goto(urljoin(page.url, href))
        expect(proxied.get_by_test_id("walker-name")).to_contain_text("greet", timeout=15_000)
        proxied.get_by_test_id("connect").click()
        expect(proxied.get_by_test_id("channel-id")).to_have_text("lobby", timeout=15_000)
        proxied.get_by_test_id("chat-text").fill("through the proxy")
        proxied.get_by_test_id("chat-send").click()
        expect(guest).to_contain_text("through the proxy", timeout=15_000)  # reached a card in the notebook
        proxied.close()

        run_command(page, "application:toggle-left-area")
        page.evaluate("() => document.querySelector('.jacws-flow').scrollIntoView()")
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-playground.png"))

        select_last_cell(page)
        run_command(page, "notebook:run-cell")
        expect(bob).to_contain_text("closed (code 1001)", timeout=30_000)
    finally:
        context.close()

"""``jacws serve`` as a real process: serving a file, persisting to --db, stopping on a signal."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from support import TIMEOUT, WS, quiet, register_and_login
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parent.parent
CHAT = ROOT / "examples" / "chat.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Serve:
    """``jacws serve`` in a subprocess; its log lines are read by a thread into a queue."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "jacws.cli", "serve", *args, "--port", str(self.port)]
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)

    def wait_for_line(self, text: str, timeout: float = 15) -> str:
        while True:
            line = self.lines.get(timeout=timeout)
            self.log.append(line)
            if text in line:
                return line

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/websocket"

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.close()

    def close(self) -> int:
        """Wait for the process (killing it if it is still running) and release its pipe."""
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        code = self.process.wait(timeout=15)
        self._pump_thread.join(TIMEOUT)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return code


@pytest.fixture
def chat_server(tmp_path: Path) -> Iterator[Serve]:
    serve = Serve(str(CHAT), "--db", str(tmp_path / "chat.db"))
    serve.wait_for_line("Application startup complete")
    yield serve
    if serve.process.poll() is None:
        serve.process.kill()
    serve.close()


def test_serve_runs_the_example_walkers_and_sigint_closes_sockets_with_1001(chat_server: Serve) -> None:
    with httpx.Client(base_url=chat_server.url, timeout=TIMEOUT) as http:
        names = [w["name"] for w in http.get("/walkers").json()["walkers"]]
    assert names == ["long_task", "send_chat_to_client", "send_chat_to_group", "send_chat_to_user"]
    ws = WS(chat_server.ws_url)
    ws.walker("long_task", steps=2, delay=0.05)
    assert [ws.recv()["progress"] for _ in range(3)] == ["0%", "50%", "100%"]
    assert ws.recv() == {"status": 200, "reports": ["done"]}
    ws.walker("long_task", steps=10**9, delay=0)  # a stranger asking for a core for ever
    refused = ws.recv()
    assert refused["code"] == "invalid_event" and [d["loc"] for d in refused["details"]] == [["steps"], ["delay"]]
    with httpx.Client(base_url=chat_server.url, timeout=TIMEOUT) as http:
        assert http.post("/walker/long_task", json={"steps": 21}).status_code == 422
    assert chat_server.interrupt() == 0
    with pytest.raises(ConnectionClosed):
        ws.recv()
    assert ws.ws.close_code == 1001


def test_serve_keeps_users_in_the_db_file_across_restarts(tmp_path: Path) -> None:
    db = str(tmp_path / "users.db")
    first = Serve(str(CHAT), "--db", db)
    first.wait_for_line("Application startup complete")
    login = register_and_login(first.url, "cli@example.com")
    assert first.interrupt() == 0
    second = Serve(str(CHAT), "--db", db)
    second.wait_for_line("Application startup complete")
    try:
        with WS(second.ws_url, token=login["token"]) as ws:
            assert ws.root_id == "n::" + login["user"]["root_id"]
    finally:
        assert second.interrupt() == 0
    assert any("secret generated and stored" in line for line in first.log)


def test_serve_signs_with_the_secret_from_a_file_and_refuses_short_secrets(tmp_path: Path) -> None:
    secret_file = tmp_path / "jwt.secret"
    secret_file.write_text("k" * 48 + "\n")
    serve = Serve(str(CHAT), "--secret-file", str(secret_file))
    serve.wait_for_line("Application startup complete")
    try:
        token = register_and_login(serve.url, "filed@example.com")["token"]
        assert jwt.decode(token, "k" * 48, algorithms=["HS256"])["email"] == "filed@example.com"
    finally:
        assert serve.interrupt() == 0

    def refused(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "jacws.cli", "serve", str(CHAT), "--port", str(free_port()), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)

    weak = refused(env={**os.environ, "JACWS_SECRET": "changeme"})  # found offline from one token before
    assert weak.returncode == 2 and "has 8 bytes; it needs at least 32" in weak.stderr
    (tmp_path / "weak.secret").write_text("changeme")
    weak_file = refused("--secret-file", str(tmp_path / "weak.secret"))
    assert weak_file.returncode == 2 and "weak.secret) has 8 bytes" in weak_file.stderr
    on_command_line = refused("--secret", "changeme")
    assert "--secret shows in every user's process list" in on_command_line.stderr
    assert on_command_line.returncode == 2 and "has 8 bytes" in on_command_line.stderr


def test_serve_refuses_a_missing_file_and_a_taken_port() -> None:
    missing = subprocess.run(
        [sys.executable, "-m", "jacws.cli", "serve", "nope.py"], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert missing.returncode == 2 and "no such walker file: nope.py" in missing.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = subprocess.run(
            [sys.executable, "-m", "jacws.cli", "serve", str(CHAT), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    assert busy.returncode == 2 and f"port {port} on 127.0.0.1 is taken" in busy.stderr


def test_playground_opens_jupyterlab_on_the_quickstart(tmp_path: Path) -> None:
    port, token = free_port(), "playground-test-token"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    command = [
        sys.executable,
        "-m",
        "jacws.cli",
        "playground",
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    lines: queue.Queue[str] = queue.Queue()
    pump = threading.Thread(target=lambda: [lines.put(line) for line in process.stderr or []], daemon=True)
    pump.start()
    try:
        while f"127.0.0.1:{port}/lab" not in lines.get(timeout=60):
            pass
        with httpx.Client(timeout=TIMEOUT) as http:
            answer = http.get(f"http://127.0.0.1:{port}/api/contents/01_quickstart.ipynb", params={"token": token})
        assert answer.status_code == 200 and answer.json()["name"] == "01_quickstart.ipynb"
    finally:
        process.terminate()
        process.wait(timeout=30)
        pump.join(TIMEOUT)
        if process.stderr is not None:
            process.stderr.close()


def test_playground_outside_a_checkout_copies_the_tutorials_and_names_them(tmp_path: Path) -> None:
    def playground(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "jacws.cli", "playground", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path)

    listing = playground("--list")
    assert listing.returncode == 0
    assert "01_quickstart.ipynb          01 · Quickstart: a walker and three clients" in listing.stdout
    missing = playground("--dir", "mine", "--notebook", "nope.ipynb")
    assert (
        missing.returncode == 2
        and "no nope.ipynb in" in missing.stderr
        and "--list names the tutorials" in missing.stderr
    )
    assert f"the tutorials are in {tmp_path / 'mine'} (11 copied or updated)" in missing.stderr
    assert (tmp_path / "mine" / "01_quickstart.ipynb").read_bytes() == (
        ROOT / "notebooks" / "01_quickstart.ipynb"
    ).read_bytes()


def test_serve_refuses_several_workers_without_redis_or_a_shared_store(tmp_path: Path) -> None:
    def serve(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "jacws.cli", "serve", str(CHAT), "--port", str(free_port()), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)

    no_redis = serve("--workers", "2", "--db", str(tmp_path / "x.db"))
    assert no_redis.returncode == 2 and "--workers > 1 needs --redis-url" in no_redis.stderr
    no_store = serve("--workers", "2", "--redis-url", "redis://127.0.0.1:1/0")
    assert no_store.returncode == 2 and "needs a shared store" in no_store.stderr
    no_secret = serve("--db", "postgresql://nobody@127.0.0.1:1/db")
    assert no_secret.returncode == 2 and "same token secret" in no_secret.stderr
    bad_proxy = serve("--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "proxy.local")
    assert bad_proxy.returncode == 2 and "'proxy.local' is not an IP address or network" in bad_proxy.stderr


def test_three_workers_share_one_port_and_deliver_across_processes(tmp_path: Path, redis_server: Any) -> None:
    serve = Serve(str(CHAT), "--workers", "3", "--redis-url", redis_server.url, "--db", str(tmp_path / "w.db"))
    try:
        for _ in range(3):
            serve.wait_for_line("Application startup complete")
        processes = set()
        for _ in range(30):  # a new TCP connection each time: the kernel spreads them over the workers
            with httpx.Client(timeout=TIMEOUT) as http:
                health = http.get(serve.url + "/healthz").json()
            assert health["relay"]["connected"] is True
            processes.add(health["process"])
        assert len(processes) >= 2
        clients = [WS(serve.ws_url, channel_id="workers") for _ in range(24)]
        try:
            clients[0].send({"type": "channel", "channel_ids": ["workers"], "data": {"to": "everyone"}})
            assert [c.recv() for c in clients] == [{"to": "everyone"}] * len(clients)
            clients[5].send({"type": "client", "client_ids": [c.client_id for c in clients[10:]], "data": {"n": 2}})
            assert [c.recv() for c in clients[10:]] == [{"n": 2}] * 14
            quiet(*clients)
        finally:
            assert serve.interrupt() == 0
        for client in clients:
            with pytest.raises(ConnectionClosed):
                client.recv()
            assert client.ws.close_code == 1001
    finally:
        if serve.process.poll() is None:
            serve.process.kill()
        serve.close()

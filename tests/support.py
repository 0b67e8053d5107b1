"""Test helpers: a synchronous websocket client with timeouts and a quiet-check barrier."""

from __future__ import annotations

import ctypes
import gc
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from websockets.sync.client import ClientConnection, connect

TIMEOUT_FACTOR = float(os.environ.get("JACWS_TESTS_TIMEOUT_FACTOR", "1"))
"""Scales every wait of the tests (as websockets' own tests do): raise it on a slow machine."""

TIMEOUT = 5.0 * TIMEOUT_FACTOR
"""Every network wait in the tests is bounded by this many seconds."""


def wait_until(condition: Callable[[], object], why: str, timeout: float = TIMEOUT, every: float = 0.02) -> None:
    """Poll ``condition`` until it is true; fail saying ``why`` (and how long) when ``timeout`` passes first.

    For conditions nothing signals (a process's memory, a server's bookkeeping); events are awaited instead.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{why} (still not so after {timeout:g} s)")
        time.sleep(every)


class WS:
    """A real websocket client that reads the connection event on connect."""

    def __init__(self, ws_url: str, token: str | None = None, channel_id: str | None = None, **options: Any) -> None:
        url = ws_url + (f"?channel_id={quote(channel_id)}" if channel_id else "")
        headers = dict(options.pop("additional_headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        options.setdefault("ping_interval", None)  # no background pings (they use the random module)
        # entering the connection is websockets' non-legacy way of using it directly
        self.ws: ClientConnection = connect(
            url, additional_headers=headers or None, open_timeout=TIMEOUT, **options
        ).__enter__()
        first = self.recv()
        assert first["type"] == "connection", first
        self.info: dict[str, str] = first["data"]

    @property
    def client_id(self) -> str:
        return self.info["client_id"]

    @property
    def root_id(self) -> str:
        return self.info["root_id"]

    @property
    def channel_id(self) -> str:
        return self.info["channel_id"]

    def send(self, message: Any) -> None:
        self.ws.send(orjson.dumps(message).decode())

    def recv(self, timeout: float = TIMEOUT) -> Any:
        return orjson.loads(self.ws.recv(timeout=timeout))

    def walker(self, name: str, request_id: Any = None, response: bool = True, **context: Any) -> None:
        event: dict[str, Any] = {"type": "walker", "walker": name, "context": context, "response": response}
        if request_id is not None:
            event["id"] = request_id
        self.send(event)

    def call(self, name: str, **context: Any) -> Any:
        """Run a walker with ``response: true`` and return the next message (its answer)."""
        self.walker(name, **context)
        return self.recv()

    def barrier(self) -> None:
        """Assert nothing is waiting: a ``connection`` event must be answered before anything else."""
        self.send({"type": "connection"})
        message = self.recv()
        assert message.get("type") == "connection", f"unexpected message {message}"
        assert message["data"]["client_id"] == self.client_id, f"unexpected message {message}"
        self.info = message["data"]

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> WS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def quiet(*clients: WS) -> None:
    """Assert none of ``clients`` has a message waiting (each answers its barrier first)."""
    for client in clients:
        client.barrier()


def register_and_login(base_url: str, email: str, password: str = "s3cret-pass") -> dict[str, Any]:
    """Register (if needed) and log in; return the login answer with ``token`` and ``user``."""
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
        answer = http.post("/user/register", json={"email": email, "password": password})
        assert answer.status_code in (201, 409), answer.text
        login = http.post("/user/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        return login.json()


def run_in_thread(fn: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=fn, args=args, daemon=True)
    thread.start()
    return thread


def rss() -> int:
    """This process's resident memory after a collection, with freed memory handed back to the OS."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc keeps freed pages otherwise; RSS would show them as "used"
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")

"""Load from a notebook: lightweight clients in a process of their own, and a handle with their live figures.

:meth:`Server.load <jacws.server.Server.load>` starts :mod:`jacws.loadgen` as a child process
(it dies with the kernel and stops by itself) and returns a :class:`Load`: its figures while it
runs (delivered per second, latency p50/p99, how many are connected, how connections ended)
and at the end the losses, which a healthy server keeps at 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import orjson

from .errors import JacWSError

__all__ = ["Load", "LoadFailed"]


class LoadFailed(JacWSError):
    """The load generator stopped without its final figures."""


class Load:
    """A running load: ``numbers()`` now, ``wait()`` for the end, ``stop()`` to end it early.

    Args:
        ws_url: the server's ``ws://HOST:PORT/websocket``.
        clients: how many clients join ``channel_id``; ``slow`` of them stop reading.
        rate: channel events published per second, by the reading clients in turn.
        seconds: how long to publish.
        payload: bytes of filler in each event.
    """

    def __init__(
        self, ws_url: str, clients: int, channel_id: str, rate: float, seconds: float, payload: int, slow: int = 0
    ) -> None:
        if clients < 1 or rate <= 0 or seconds <= 0 or payload < 0 or not 0 <= slow < clients:
            raise ValueError("load needs clients >= 1, rate > 0, seconds > 0, payload >= 0 and 0 <= slow < clients")
        self.seconds = seconds
        self.spec: dict[str, Any] = {
            "ws_url": ws_url,
            "clients": clients,
            "channel_id": channel_id,
            "rate": rate,
            "seconds": seconds,
            "payload": payload,
            "slow": slow,
            "parent": os.getpid(),
        }
        self._changed = threading.Condition()
        self._latest: dict[str, Any] = {"phase": "starting", "clients": clients, "connected": 0, "published": 0}
        self._final: dict[str, Any] | None = None
        self._done = threading.Event()
        self._errors: list[str] = []
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed by _follow; a pipe nobody reads could stall it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jacws.loadgen", orjson.dumps(self.spec).decode()],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.started = time.monotonic()
        threading.Thread(target=self._follow, name="jacws-load", daemon=True).start()

    def _follow(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                figures = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            with self._changed:
                self._latest = figures
                if figures.get("final"):
                    self._final = figures
                self._changed.notify_all()
        self.process.wait()
        self.process.stdout.close()
        if self._final is None:
            self._stderr.seek(0)
            self._errors.append(self._stderr.read()[-2000:])
        self._stderr.close()
        with self._changed:
            self._done.set()
            self._changed.notify_all()

    @property
    def finished(self) -> bool:
        """Whether the load is over (its process ended)."""
        return self._done.is_set()

    def numbers(self) -> dict[str, Any]:
        """The latest figures: ``phase``, ``connected``, ``published``, ``delivered``, ``delivered_per_s``,
        ``latency_p50_ms``, ``latency_p99_ms``, ``closed`` (close codes seen by the clients), ``errors``;
        at the end also ``lost`` and ``expected``."""
        return dict(self._latest)

    def wait_for_figures(self, timeout: float) -> bool:
        """Wait (up to ``timeout`` seconds) for the generator's next figures; whether they came."""
        with self._changed:
            latest = self._latest
            return self._changed.wait_for(lambda: self._latest is not latest or self.finished, timeout)

    def wait(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the end and return the final figures.

        Raises:
            TimeoutError: the load is still running after ``timeout`` seconds.
            LoadFailed: the generator stopped without its figures (its error is in the message).
        """
        limit = timeout if timeout is not None else self.seconds + 60
        if not self._done.wait(limit):
            raise TimeoutError(f"the load is still running after {limit:g} s")
        if self._final is None:
            raise LoadFailed("the load generator stopped early: " + ("".join(self._errors).strip() or "no output"))
        return dict(self._final)

    def stop(self) -> None:
        """End the load now (its clients close)."""
        if self.process.poll() is None:
            self.process.terminate()
        self._done.wait(10)

    def __repr__(self) -> str:
        n = self._latest
        lost = f", lost {n['lost']}" if "lost" in n else ""
        return (
            f"<jacws.Load {n.get('phase')}: {n.get('connected', 0)}/{self.spec['clients']} clients, "
            f"published {n.get('published', 0)}, delivered {n.get('delivered', 0)}{lost}>"
        )

"""A throwaway ``redis-server`` for notebooks and demos: a free port, nothing saved, gone with this process.

``start_redis()`` runs the ``redis-server`` on the PATH on 127.0.0.1 and returns once it
accepts connections. It stops with :meth:`LocalRedis.stop`, when this process exits, and
on Linux also when this process is killed (the child asks the kernel for SIGTERM when its
parent thread dies), so a notebook's Redis never outlives its kernel.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from types import TracebackType

from .errors import JacWSError

__all__ = ["LocalRedis", "start_redis"]

# Runs in the child before it becomes redis-server: PR_SET_PDEATHSIG survives exec.
_DIE_WITH_PARENT = """
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
except (AttributeError, OSError):
    pass
os.execv(sys.argv[1], sys.argv[1:])
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalRedis:
    """One local ``redis-server`` process (see :func:`start_redis`)."""

    def __init__(self, binary: str | None = None, port: int = 0) -> None:
        found = shutil.which(binary or "redis-server")
        if found is None:
            raise JacWSError(
                f"{binary or 'redis-server'} is not on the PATH: apt-get install redis-server, brew install redis "
                "or conda install -c conda-forge redis"
            )
        self.binary = found
        self.port = port or _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._folder = tempfile.TemporaryDirectory(prefix="jacws-redis-")

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> LocalRedis:
        """Start and return once Redis accepts connections.

        Raises:
            JacWSError: it exited or did not answer within ``timeout`` seconds.
        """
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command = [self.binary, *options, "--dir", self._folder.name]
        if sys.platform.startswith("linux"):
            command = [sys.executable, "-c", _DIE_WITH_PARENT, *command]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise JacWSError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)  # a process start-up: nothing to wait on but the port

    def stop(self, timeout: float = 10) -> None:
        """Stop Redis (its data is thrown away)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        self._folder.cleanup()

    def __enter__(self) -> LocalRedis:
        return self if self.process is not None else self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.process is not None and self.process.poll() is None else "stopped"
        return f"<jacws.LocalRedis {self.url} {state}>"


def start_redis(port: int = 0, binary: str | None = None) -> LocalRedis:
    """Start a throwaway ``redis-server`` on 127.0.0.1 (a free port by default) and return it."""
    return LocalRedis(binary, port).start()

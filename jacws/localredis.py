"""A throwaway ``redis-server`` for notebooks and demos: a free port, nothing saved, gone with this process.

``start_redis()`` runs the ``redis-server`` on the PATH on 127.0.0.1 and returns once it
accepts connections. It stops with :meth:`LocalRedis.stop`, when this process exits, and
on Linux also when this process is killed (the child asks the kernel for SIGTERM when its
parent thread dies), so a notebook's Redis never outlives its kernel.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from types import TracebackType

from .errors import JacWSError

__all__ = ["LocalRedis", "start_redis"]

# Runs in the child before it becomes redis-server: PR_SET_PDEATHSIG survives exec. If the
# parent died before the request took effect, the child is already orphaned: it gives up.
_DIE_WITH_PARENT = """
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
except (AttributeError, OSError):
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)
os.execv(sys.argv[2], sys.argv[2:])
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
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> LocalRedis:
        """Start and return once Redis accepts connections.

        Raises:
            JacWSError: it exited or did not answer within ``timeout`` seconds.
        """
        if self.process is not None:
            raise JacWSError(f"{self!r} is already running")
        self._folder = tempfile.TemporaryDirectory(prefix="jacws-redis-")
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command = [self.binary, *options, "--dir", self._folder.name]
        if sys.platform.startswith("linux"):
            command = [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *command]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while True:
            if self._answers_as(self.process.pid):  # ours, not another Redis already on that port
                return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise JacWSError(f"redis-server did not start on port {self.port} (is the port taken?)")
            time.sleep(0.02)  # a process start-up: nothing to wait on but the port

    def _answers_as(self, pid: int) -> bool:
        """Whether the Redis on our port answers and says it is process ``pid``."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                connection.sendall(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
                reply = b""
                while b"process_id:" not in reply or not reply.endswith(b"\r\n"):
                    chunk = connection.recv(65536)
                    if not chunk:
                        return False
                    reply += chunk
        except OSError:
            return False
        line = reply.split(b"process_id:", 1)[1].split(b"\r\n", 1)[0]
        return line.strip() == str(pid).encode()

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
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

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

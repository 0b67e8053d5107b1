"""``jacws serve FILE --reload``: serve from a child process, and start a new one when the served file, or a Python
or Jac file next to it, changes.

This process holds the listening socket and watches the folder (``watchfiles``); it never imports the walkers. On a
change it forks a new child, which loads the file afresh and serves on the same socket; once the new child is
ready the old one stops, closing its sockets with ``1012 service restart`` so clients reconnect (to the new one);
when the watcher stops, its child closes them with ``1001``, as ``jacws serve`` does.
A file that does not load (a syntax error, an exception at import) leaves the old child serving: its error is
printed once, with its line.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import socket
import sys
import threading
import traceback
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import watchfiles

from .runtime import build
from .settings import Settings
from .walker_files import load_file

__all__ = ["CLOSE_SERVICE_RESTART", "load_error", "serve_with_reload"]

log = logging.getLogger("jacws")

CLOSE_SERVICE_RESTART = 1012
READY_TIMEOUT = 60.0
"""Seconds a new child may take to load its walkers and start serving."""
STOP_TIMEOUT = 10.0
"""Seconds an old child may take to close its sockets and stop."""
WATCHED = (".py", ".jac")
WATCH_START_TIMEOUT = 5.0
"""Seconds to wait for the file watcher to be in place before the first server starts."""


def load_error(error: BaseException, file: Path) -> str:
    """A load failure in one line: the file and line it points at, the exception and its message."""
    if isinstance(error, SyntaxError):
        where = f"{error.filename or file}, line {error.lineno}" if error.lineno else str(error.filename or file)
        return f"{where}: {type(error).__name__}: {error.msg}"
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).parent == file.parent]
    where = f"{frames[-1].filename}, line {frames[-1].lineno}: " if frames else ""
    return f"{where}{type(error).__name__}: {error}"


class _Child:
    """One serving process, and the pipe on which it says ``ready`` (or why it could not load)."""

    def __init__(self, file: Path, jac: bool, settings: Settings, sock: socket.socket) -> None:
        context = multiprocessing.get_context("fork")  # the socket and the settings, inherited as they are
        self.answers, reply = context.Pipe(duplex=False)
        self.replaced = context.Event()  # set before it is stopped for a new one: its clients get 1012
        self.process: BaseProcess = context.Process(
            target=_child_main,
            args=(file, jac, settings, sock, reply, self.replaced, os.getpid()),
            name="jacws-reload-child",
        )
        self.process.start()
        reply.close()

    def wait_ready(self) -> str:
        """``"ready"``, or the reason the child could not start."""
        if not self.answers.poll(READY_TIMEOUT):
            self.stop()
            return f"it did not start within {READY_TIMEOUT:g} s"
        try:
            answer: str = self.answers.recv()
        except EOFError:
            answer = f"it exited with status {self.process.exitcode}"
        return answer

    def stop(self, replaced: bool = False) -> None:
        """Stop it gracefully (its sockets closed with 1012 if ``replaced``, else 1001), then for good."""
        if replaced:
            self.replaced.set()
        pid = self.process.pid
        if self.process.is_alive() and pid is not None:
            os.kill(pid, signal.SIGTERM)
        self.process.join(STOP_TIMEOUT)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.answers.close()


def _child_main(
    file: Path,
    jac: bool,
    settings: Settings,
    sock: socket.socket,
    reply: Connection,
    replaced: EventType,
    watcher: int,
) -> None:
    _die_with_parent()
    if os.getppid() != watcher:  # the watcher died before the request took effect
        os._exit(1)
    try:
        load_file(str(file), jac)
    except BaseException as error:  # whatever the file does at import, the old child keeps serving
        message = load_error(error, file)
        print(f"jacws: {file.name} did not load: {message}", file=sys.stderr, flush=True)
        reply.send(message)
        os._exit(2)
    server = build(settings)
    shutdown = server.closing
    server.closing = lambda: (CLOSE_SERVICE_RESTART, "service restart") if replaced.is_set() else shutdown()

    def say_ready() -> None:
        server.ready.wait()
        reply.send("ready")

    threading.Thread(target=say_ready, daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])


def _die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when the watcher dies, however it dies (elsewhere: nothing)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def serve_with_reload(file: str, jac: bool, settings: Settings, sock: socket.socket) -> int:
    """Serve ``file`` until SIGINT or SIGTERM, restarting on changes; the exit status (2 if it never loaded)."""
    path = Path(file).resolve()
    stop = threading.Event()
    batches: queue.Queue[set[str]] = queue.Queue()
    watching = threading.Event()
    watcher = threading.Thread(target=_watch, args=(path.parent, stop, batches, watching), daemon=True)
    watcher.start()  # before the first server: a change made while it starts is not missed
    watching.wait(WATCH_START_TIMEOUT)
    current = _Child(path, jac, settings, sock)
    if current.wait_ready() != "ready":
        stop.set()
        current.stop()
        return 2

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    log.info("watching %s for changes to its .py and .jac files", path.parent)
    try:
        while not stop.is_set():
            try:
                names = batches.get(timeout=0.2)
            except queue.Empty:
                continue
            log.info("%s changed: starting a new server process", ", ".join(sorted(names)))
            fresh = _Child(path, jac, settings, sock)
            outcome = fresh.wait_ready()
            if outcome != "ready":
                fresh.stop()
                log.warning("still serving the previous version (the new one did not start: %s)", outcome)
                continue
            current.stop(replaced=True)
            current = fresh
            log.info("reloaded %s", path.name)
    finally:
        stop.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        current.stop()
        sock.close()
    return 0


def _watch(folder: Path, stop: threading.Event, batches: queue.Queue[set[str]], watching: threading.Event) -> None:
    """Put the names of each batch of changed ``.py`` and ``.jac`` files of ``folder`` in ``batches``."""

    def watched(change: watchfiles.Change, name: str) -> bool:
        changed = Path(name)
        return changed.suffix in WATCHED and changed.parent == folder

    for changes in watchfiles.watch(
        folder,
        watch_filter=watched,
        stop_event=stop,
        step=50,
        rust_timeout=200,
        yield_on_timeout=True,  # an empty batch now and then: the first says the watcher is in place
        recursive=False,
    ):
        watching.set()
        if changes:
            batches.put({Path(name).name for _, name in changes})

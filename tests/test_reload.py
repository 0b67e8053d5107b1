"""``jacws serve FILE --reload`` as a developer runs it: an edit restarts the server, clients see 1012 and
reconnect to the new walkers, and an edit that does not load leaves the old server serving."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import WS
from test_cli import Serve
from websockets.exceptions import ConnectionClosed

RELOADED = 5.0  # seconds within which an edit's walker must answer

APP = """
from jacws import Root, Walker, on_entry
from helper import VERSION


class version(Walker):
    class __specs__:
        methods = ["websocket", "post"]
        auth = False

    @on_entry(Root)
    def tell(self, here: Root) -> None:
        self.report(VERSION)
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Serve, Path]]:
    """``app.py`` (which imports ``helper.py`` beside it) served with --reload."""
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "helper.py").write_text('VERSION = "v1"\n')
    serve = Serve(str(tmp_path / "app.py"), "--reload", "--log-level", "info")
    try:
        serve.wait_for_line("Application startup complete", timeout=30)
        yield serve, tmp_path
    finally:
        if serve.process.poll() is None:
            serve.interrupt()
        else:
            serve.close()


def answer_of(serve: Serve) -> object:
    with WS(serve.ws_url) as ws:
        return ws.call("version")["reports"][0]


def wait_for_version(serve: Serve, expected: str) -> float:
    """Seconds until a fresh connection's call answers ``expected``."""
    started = time.monotonic()
    while True:
        try:
            if answer_of(serve) == expected:
                return time.monotonic() - started
        except (OSError, ConnectionClosed, TimeoutError):
            pass  # between two processes: try again
        assert time.monotonic() - started < RELOADED, f"{expected} not served within {RELOADED} s"
        time.sleep(0.05)


def test_an_edit_restarts_the_server_and_clients_see_a_service_restart(served: tuple[Serve, Path]) -> None:
    serve, folder = served
    with WS(serve.ws_url) as old:
        assert old.call("version")["reports"] == ["v1"]
        (folder / "helper.py").write_text('VERSION = "v2"\n')  # a file next to the served one
        with pytest.raises(ConnectionClosed):
            old.recv(timeout=RELOADED)
        assert old.ws.close_code == 1012 and old.ws.close_reason == "service restart"
    assert wait_for_version(serve, "v2") < RELOADED
    (folder / "app.py").write_text(APP.replace("self.report(VERSION)", 'self.report(VERSION + "!")'))
    assert wait_for_version(serve, "v2!") < RELOADED


def test_an_edit_that_does_not_load_leaves_the_old_server_serving(served: tuple[Serve, Path]) -> None:
    serve, folder = served
    with WS(serve.ws_url) as client:
        (folder / "helper.py").write_text("VERSION = 1 / 0\n")  # an exception at import, in the file beside
        line = serve.wait_for_line("did not load", timeout=RELOADED)
        assert "helper.py, line 1: ZeroDivisionError: division by zero" in line, line
        serve.wait_for_line("still serving the previous version", timeout=RELOADED)
        assert client.call("version")["reports"] == ["v1"]  # the same connection, the old walker
        (folder / "app.py").write_text(APP + "\ndef broken(:\n    pass\n")
        line = serve.wait_for_line("did not load", timeout=RELOADED)
        broken_line = APP.count("\n") + 2
        assert f"app.py, line {broken_line}: SyntaxError: invalid syntax" in line, line
        serve.wait_for_line("still serving the previous version", timeout=RELOADED)
        assert client.call("version")["reports"] == ["v1"]
        (folder / "app.py").write_text(APP)
    assert wait_for_version(serve, "v1") < RELOADED  # (helper.py still fails)
    (folder / "helper.py").write_text('VERSION = "fixed"\n')
    assert wait_for_version(serve, "fixed") < RELOADED
    while not serve.lines.empty():  # every line so far, read or not
        serve.log.append(serve.lines.get_nowait())
    failures = [entry for entry in serve.log if "did not load" in entry]
    kept = [entry for entry in serve.log if "still serving the previous version" in entry]
    assert len(failures) == len(kept) >= 2, serve.log  # each failed reload says why once


def test_stopping_the_watcher_closes_clients_with_1001(served: tuple[Serve, Path]) -> None:
    serve, _ = served
    with WS(serve.ws_url) as client:
        assert serve.interrupt() == 0
        with pytest.raises(ConnectionClosed):
            client.recv(timeout=RELOADED)
        assert client.ws.close_code == 1001


def test_an_edit_made_as_the_server_starts_is_not_missed(served: tuple[Serve, Path]) -> None:
    serve, folder = served  # (started a moment ago: the watcher was in place before the server)
    (folder / "helper.py").write_text('VERSION = "early"\n')
    assert wait_for_version(serve, "early") < RELOADED

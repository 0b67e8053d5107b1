"""The one walker path: the access check for both transports, and runs within the one time limit."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
from fakes import RecordingNotifier

from jacws import Root, Walker, on_entry
from jacws.errors import AuthRequired, MethodNotAllowed, UnknownWalker, WalkerFailed
from jacws.protocol import PUBLIC_ROOT_ID
from jacws.runner import Runner
from jacws.stores import SQLiteStore
from jacws.walkers import WalkerRegistry


class r_socket(Walker):
    class __specs__:
        methods = ["websocket"]


class r_rest(Walker):
    class __specs__:
        methods = ["post", "get"]
        auth = False


class r_private(Walker):
    class __specs__:
        methods = ["websocket", "post"]
        private = True


class r_sleepy(Walker):
    seconds: float = 1.0

    class __specs__:
        methods = ["websocket", "post"]
        auth = False

    @on_entry(Root)
    def sleep(self, here: Root) -> None:
        threading.Event().wait(self.seconds)
        self.report("slept")


def make_runner(timeout: float | None = 5.0) -> Runner:
    registry = WalkerRegistry()
    for cls in (r_socket, r_rest, r_private, r_sleepy):
        registry.register(cls)
    return Runner(registry, SQLiteStore(), ThreadPoolExecutor(2), timeout)


def test_one_access_check_for_both_transports() -> None:
    runner = make_runner()
    assert runner.walker_for("r_socket", "websocket", anonymous=False) is r_socket
    with pytest.raises(AuthRequired, match="r_socket requires a logged-in user"):
        runner.walker_for("r_socket", "websocket", anonymous=True)
    with pytest.raises(UnknownWalker):
        runner.walker_for("r_socket", "http", anonymous=False)  # not served over REST
    assert runner.walker_for("r_rest", "http", anonymous=True, method="GET") is r_rest
    with pytest.raises(MethodNotAllowed, match="r_rest accepts POST, GET"):
        runner.walker_for("r_rest", "http", anonymous=True, method="delete")
    with pytest.raises(UnknownWalker):
        runner.walker_for("r_rest", "websocket", anonymous=True)
    for transport in ("websocket", "http"):
        with pytest.raises(UnknownWalker):
            runner.walker_for("r_private", transport, anonymous=False)  # type: ignore[arg-type]
        with pytest.raises(UnknownWalker):
            runner.walker_for("nothing", transport, anonymous=False)  # type: ignore[arg-type]


def test_one_time_limit_for_every_run() -> None:
    runner = make_runner(timeout=0.2)

    async def scenario() -> None:
        cls = runner.walker_for("r_sleepy", "websocket", anonymous=True)
        with pytest.raises(WalkerFailed, match=r"r_sleepy failed: it timed out after 0\.2 s"):
            await runner.run(cls, {"seconds": 2}, PUBLIC_ROOT_ID, RecordingNotifier())
        fragment = await runner.run(cls, {"seconds": 0.01}, PUBLIC_ROOT_ID, RecordingNotifier())
        assert orjson.dumps(fragment) == b'["slept"]'

    asyncio.run(asyncio.wait_for(scenario(), 10))

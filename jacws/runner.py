"""The one walker path for the socket and REST: which walker, whether this caller may run it, and the run.

:meth:`Runner.walker_for` is the one access check (served over this transport, this HTTP method,
a user where the walker wants one); :meth:`Runner.run` walks the caller's graph within the one time
limit, kept by one watchdog for every walk (no timer per call), and only a walk over in time is saved
(:func:`jacws.walkers.run_walker`). Every failure is an exception of the :mod:`jacws.errors` tree,
answered the same way by both.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import Executor
from typing import Any, Literal

import orjson

from .errors import AuthRequired, MethodNotAllowed, UnknownWalker, WalkerFailed
from .graph import GraphSession
from .stores import Store
from .walkers import Notifier, Walker, WalkerRegistry, run_walker

__all__ = ["Runner"]


class Runner:
    """Runs walkers for the socket and REST alike.

    Args:
        registry: the walkers served.
        store: users' graphs.
        executor: where plain (sync) abilities run.
        timeout: seconds a walk may take (None: no limit).
    """

    def __init__(self, registry: WalkerRegistry, store: Store, executor: Executor, timeout: float | None) -> None:
        self.registry = registry
        self.store = store
        self.executor = executor
        self.timeout = timeout
        self._running: dict[asyncio.Task[Any], float] = {}  # each walk under way, and when it started
        self._stopped: set[asyncio.Task[Any]] = set()  # walks the watchdog cancelled for their time
        self._watchdog: asyncio.Task[None] | None = None

    def walker_for(
        self, name: str, transport: Literal["websocket", "http"], anonymous: bool, method: str = "post"
    ) -> type[Walker]:
        """The walker ``name``, if this caller may run it over ``transport`` (with HTTP ``method``).

        Raises:
            UnknownWalker: no such walker, a private one, or one not served over this transport.
            MethodNotAllowed: an HTTP method its specs do not list.
            AuthRequired: it needs a logged-in user and the caller is anonymous.
        """
        cls = self.registry.get(name)
        specs = cls.__jacws_specs__ if cls is not None else None
        served = specs is not None and (specs.websocket if transport == "websocket" else bool(specs.http_methods))
        if cls is None or specs is None or specs.private or not served:
            raise UnknownWalker(f"unknown walker {name[:100]!r}")
        if transport == "http" and method.lower() not in specs.http_methods:
            allowed = ", ".join(m.upper() for m in specs.http_methods)
            raise MethodNotAllowed(f"walker {name} accepts {allowed}")
        if specs.auth and anonymous:
            raise AuthRequired(f"walker {name} requires a logged-in user")
        return cls

    async def run(
        self,
        cls: type[Walker],
        fields: dict[str, Any],
        root_id: str,
        notifier: Notifier,
        node_id: str | None = None,
    ) -> orjson.Fragment:
        """Run ``cls`` on ``root_id``'s graph (from ``node_id``) within the time limit; its reports, serialised.

        Raises:
            ClientError: bad fields, a node of another user, a walker that failed or ran out of time.
        """
        session = GraphSession(self.store, root_id)
        if self.timeout is None:
            return await run_walker(cls, fields, session, notifier, self.executor, node_id)
        task = asyncio.current_task()
        assert task is not None
        self._running[task] = asyncio.get_running_loop().time()
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(self._watch(self.timeout), name="jacws-watchdog")
        try:
            walked = functools.partial(self._running.pop, task, None)  # the save after the walk is not timed
            return await run_walker(cls, fields, session, notifier, self.executor, node_id, on_walked=walked)
        except asyncio.CancelledError:
            if task not in self._stopped:
                raise
            self._stopped.discard(task)
            uncancel = getattr(task, "uncancel", None)  # Python 3.11+ counts cancellations
            if uncancel is not None:
                uncancel()  # the cancellation was the time limit's: the task goes on and answers
            raise WalkerFailed(f"walker {cls.__name__} failed: it timed out after {self.timeout:g} s") from None
        finally:
            self._running.pop(task, None)

    async def _watch(self, limit: float) -> None:
        # One timer for every walk of the server rather than one per call: every so often (a quarter of
        # the limit, at most a second), the walks running longer than the limit are cancelled.
        loop = asyncio.get_running_loop()
        period = min(1.0, max(0.02, limit / 4))
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            for task, started in list(self._running.items()):
                if now - started > limit and task not in self._stopped:
                    self._stopped.add(task)
                    task.cancel()

    def stop(self) -> None:
        """Stop the watchdog (the server is shutting down)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

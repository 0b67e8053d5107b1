"""The one walker path for the socket and REST: which walker, whether this caller may run it, and the run.

:meth:`Runner.walker_for` is the one access check (served over this transport, this HTTP method,
a user where the walker wants one); :meth:`Runner.run` walks the caller's graph within the one time
limit (:func:`jacws.walkers.run_walker`: only a walk over in time is saved) and lets go of the graph
after. Every failure is an exception of the :mod:`jacws.errors` tree, answered the same way by both.
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any, Literal

import orjson

from .errors import AuthRequired, FilesNeedRest, MethodNotAllowed, UnknownWalker
from .graph_session import GraphSession
from .notify import Notifier
from .stores import Store
from .walkers import Walker, WalkerRegistry, run_walker

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

    def walker_for(
        self, name: str, transport: Literal["websocket", "http"], anonymous: bool, method: str = "post"
    ) -> type[Walker]:
        """The walker ``name``, if this caller may run it over ``transport`` (with HTTP ``method``).

        Raises:
            UnknownWalker: no such walker, a private one, or one not served over this transport.
            MethodNotAllowed: an HTTP method its specs do not list.
            AuthRequired: it needs a logged-in user and the caller is anonymous.
            FilesNeedRest: it takes files and ``transport`` is the socket.
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
        if transport == "websocket" and cls.__jacws_files__:
            files = ", ".join(cls.__jacws_files__)
            raise FilesNeedRest(
                f"walker {name} takes files ({files}): call it over REST, POST /walker/{name} with multipart/form-data"
            )
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
        return await run_walker(cls, fields, session, notifier, self.executor, node_id, self.timeout)

"""jaclang, loaded once and on demand, with jacws's plugin hooks; the one thread Jac walkers run on.

jaclang keeps one unit of work per process, shared by every request, so Jac walkers run one
at a time on a thread of their own (``jacws-jac``), never on the event loop.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..errors import JacUnavailable
from .ids import to_json

if TYPE_CHECKING:
    from .graph import JacGraph

MISSING_MESSAGE = 'Jac walkers need the jac extra on Python 3.12 or newer: pip install "jacws[jac]"'
MEMORY = "jacws-memory"  # the base path that asks for an in-memory SQLite graph

_load_lock = threading.Lock()
_jac: Any = None  # jaclang's runtime interface, once loaded
_thread: ThreadPoolExecutor | None = None
active_graph: contextvars.ContextVar[JacGraph] = contextvars.ContextVar("jacws_jac_graph")
reports_said: contextvars.ContextVar[list[tuple[int, Any]] | None] = contextvars.ContextVar("jacws_jac_reported")
"""While a watched graph is walked: each report, with the index of the walker's place in its path then."""


def runtime() -> Any:
    """jaclang's runtime, with jacws's hooks installed.

    Raises:
        JacUnavailable: jaclang is missing or cannot run on this Python.
    """
    global _jac
    if _jac is not None:
        return _jac
    with _load_lock:
        if _jac is None:
            if sys.version_info < (3, 12):
                raise JacUnavailable(f"{MISSING_MESSAGE} (this is Python {sys.version_info[0]}.{sys.version_info[1]})")
            try:
                # jaclang installs its .jac importer; its serializer, imported now, registers every
                # node class a Jac file defines later (a graph read back from a file needs them).
                import jaclang.runtimelib.serializer  # noqa: F401
                from jaclang.jac0core.runtime import JacRuntime, hookimpl, plugin_manager
            except ImportError as error:
                raise JacUnavailable(MISSING_MESSAGE) from error
            plugin_manager.register(_make_hooks(hookimpl), name="jacws")
            _jac = JacRuntime
    return _jac


def jac_thread() -> Executor:
    """The one thread Jac walkers run on, started on first use."""
    global _thread
    with _load_lock:
        if _thread is None:
            _thread = ThreadPoolExecutor(1, thread_name_prefix="jacws-jac")
        return _thread


def _make_hooks(hookimpl: Any) -> object:
    """jaclang plugin hooks, active only while a jacws walker runs."""

    class JacWSHooks:
        def log_report(self, expr: Any, custom: bool = False) -> bool | None:
            # jaclang prints every report to stdout; a server must not. The rest is jaclang's own.
            if active_graph.get(None) is None:
                return None
            from jaclang.jac0core.osp_kernel import _current_scope, osp_report

            if custom:
                _jac.get_context().custom = expr
            elif (scope := _current_scope()) is not None:
                osp_report(expr)
                said = reports_said.get(None)
                if said is not None and scope.path:  # the graph is watched: what was said where
                    said.append((len(scope.path) - 1, to_json(expr)))
            return True

        def get_persistent_memory(self, config: dict[str, Any]) -> Any:
            # jaclang enforces ownership only on persisted nodes: an in-memory graph gets an
            # in-memory SQLite database, so that ownership holds there too.
            if config.get("base_path") != MEMORY:
                return None
            from jaclang.runtimelib.memory import SqliteMemory

            return SqliteMemory(path=":memory:")

        def get_object(self, id: Any) -> Any:
            # `&(id)` on the ids jacws hands out. Every spelling of a node id is looked at here, so
            # none slips past the ownership check; "root" (the caller's) is jaclang's.
            graph = active_graph.get(None)
            if graph is None or not isinstance(id, str) or id == "root":
                return None
            return graph.resolve(id)

        def get_all_root(self) -> Any:
            # `allroots()`: a jacws user sees one root, their own.
            graph = active_graph.get(None)
            return None if graph is None else [_jac.get_context().get_root()]

    for name in ("log_report", "get_persistent_memory", "get_object", "get_all_root"):
        setattr(JacWSHooks, name, hookimpl(getattr(JacWSHooks, name)))
    return JacWSHooks()


def started_thread() -> Executor | None:
    """The Jac thread if a Jac walker ever needed it, else None."""
    return _thread

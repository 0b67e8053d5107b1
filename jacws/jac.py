"""Jac walkers: a ``.jac`` file's walkers join the registry and run on each user's own Jac root.

Needs the ``jac`` extra (jaclang, Python 3.12 or newer), imported only when Jac is loaded:
``import jacws`` never imports jaclang. A loaded Jac walker is a :class:`~jacws.Walker` like
any other (its ``has`` fields and ``__specs__`` drive the same routes, events, catalogue and
validation); only its walk differs: it runs inside jaclang, on the caller's Jac root.

jaclang keeps one unit of work per process, shared by every request, so Jac walkers run one
at a time on a thread of their own (``jacws-jac``), never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import importlib.util
import inspect
import logging
import re
import sys
import tempfile
import threading
import uuid
import weakref
from collections.abc import Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pydantic

from . import observe
from .errors import Forbidden, InvalidTarget, JacLoadError, JacUnavailable, WalkerAbandoned
from .graph import EdgeRecord, GraphSession, NodeRecord
from .protocol import normalize_node_id
from .stores import SQLiteStore
from .walkers import Notifier, Walker, _current_notifier

__all__ = [
    "JacGraph",
    "JacLoadError",
    "JacUnavailable",
    "JacWalker",
    "close_graph",
    "load_ipython_extension",
    "load_jac",
]

log = logging.getLogger("jacws.jac")

MISSING_MESSAGE = 'Jac walkers need the jac extra on Python 3.12 or newer: pip install "jacws[jac]"'
_MEMORY = "jacws-memory"  # the base path that asks for an in-memory SQLite graph
_ROOT_MARK = "6a616377"  # "jacw": the last 8 hex digits of a jacws user's Jac root UUID
_SHORT_ID = re.compile(r"(?:n::)?[0-9a-f]{24}")  # a jacws root id
_PREFIX = re.compile(r"^[ne]::")


class CommitGate:
    """Between a Jac walk and its commit: the Jac thread says the walk is over, then waits to be told to commit.

    The event loop's side times the walk only: a walk over in time is committed (``go``), one stopped by
    the time limit is not (``abandoned``), whatever the timing of jaclang's own commit at the end of a spawn.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, walked: asyncio.Future[None]) -> None:
        self.go = threading.Event()
        self.abandoned = threading.Event()
        self._loop = loop
        self._walked = walked
        self._told = False

    def proceed(self) -> bool:
        """(The Jac thread) the walk is over: wait for the verdict; whether to commit."""
        if not self._told:
            self._told = True
            self._loop.call_soon_threadsafe(_settle, self._walked)
        while not self.go.wait(0.05):
            if self.abandoned.is_set():
                return False
        return True


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# -- jaclang, loaded once --------------------------------------------------------------------

_load_lock = threading.Lock()
_jac: Any = None  # jaclang's runtime interface, once loaded
_thread: ThreadPoolExecutor | None = None
_active: contextvars.ContextVar[JacGraph] = contextvars.ContextVar("jacws_jac_graph")
_reported: contextvars.ContextVar[list[tuple[int, Any]] | None] = contextvars.ContextVar("jacws_jac_reported")
"""While a watched graph is walked: each report, with the index of the walker's place in its path then."""


def _runtime() -> Any:
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


def _jac_thread() -> Executor:
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
            if _active.get(None) is None:
                return None
            from jaclang.jac0core.osp_kernel import _current_scope, osp_report

            if custom:
                _jac.get_context().custom = expr
            elif (scope := _current_scope()) is not None:
                osp_report(expr)
                said = _reported.get(None)
                if said is not None and scope.path:  # the graph is watched: what was said where
                    said.append((len(scope.path) - 1, to_json(expr)))
            return True

        def get_persistent_memory(self, config: dict[str, Any]) -> Any:
            # jaclang enforces ownership only on persisted nodes: an in-memory graph gets an
            # in-memory SQLite database, so that ownership holds there too.
            if config.get("base_path") != _MEMORY:
                return None
            from jaclang.runtimelib.memory import SqliteMemory

            return SqliteMemory(path=":memory:")

        def get_object(self, id: Any) -> Any:
            # `&(id)` on the ids jacws hands out. Every spelling of a node id is looked at here, so
            # none slips past the ownership check; "root" (the caller's) is jaclang's.
            graph = _active.get(None)
            if graph is None or not isinstance(id, str) or id == "root":
                return None
            return graph.resolve(id)

        def get_all_root(self) -> Any:
            # `allroots()`: a jacws user sees one root, their own.
            graph = _active.get(None)
            return None if graph is None else [_jac.get_context().get_root()]

    for name in ("log_report", "get_persistent_memory", "get_object", "get_all_root"):
        setattr(JacWSHooks, name, hookimpl(getattr(JacWSHooks, name)))
    return JacWSHooks()


# -- ids ------------------------------------------------------------------------------------


def root_uuid(root_id: str) -> uuid.UUID:
    """The UUID of the Jac root of the jacws user ``root_id`` (``n::<24 hex>``)."""
    return uuid.UUID(normalize_node_id(root_id)[3:] + _ROOT_MARK)


def jacws_root_id(anchor_id: uuid.UUID) -> str | None:
    """The jacws root id of a Jac root UUID made by :func:`root_uuid`, else None."""
    text = anchor_id.hex
    return "n::" + text[:24] if text.endswith(_ROOT_MARK) else None


def public_id(archetype: Any) -> str:
    """The id a client sees: ``n::<24 hex>`` for a user's root, else ``n::``/``e::`` and jaclang's ``jid``.

    ``&(id)`` in a Jac walker takes any of these forms, and the bare hex.
    """
    anchor = archetype.__jac__
    root_id = jacws_root_id(anchor.id)
    if root_id is not None:
        return root_id
    kind = type(anchor).__name__
    prefix = "e::" if kind == "EdgeAnchor" else "n::" if kind == "NodeAnchor" else ""
    return prefix + str(anchor.id.hex)


@dataclasses.dataclass(frozen=True)
class RootRef:
    """What ``&(id)`` gives for another user's root: a name for ``socket.notify_users``, no graph.

    The seed's ``send_chat_to_user`` needs no more, and another user's graph stays out of reach
    (a real root would let ``grant`` or a traversal in).
    """

    root_id: str


def to_json(value: Any) -> Any:
    """``value`` with Jac archetypes made plain: nodes and edges as ``{"id", "context"}``."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, RootRef):
        return {"id": value.root_id, "context": {}}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(v) for v in value]
    if hasattr(value, "__jac__") and dataclasses.is_dataclass(value):
        context = {
            f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value) if not f.name.startswith("_")
        }
        return {"id": public_id(value), "context": context}
    return value


# -- one store's Jac graph --------------------------------------------------------------------


class JacGraph:
    """The Jac graph kept beside one jacws store: in memory, or in jaclang's SQLite file.

    Every method runs on the ``jacws-jac`` thread.

    Args:
        base_path: directory under which jaclang keeps ``.jac/data/<name>.db``; ``None`` for memory.
        target: the file whose stem names the database (jaclang's choice of name).
    """

    def __init__(self, base_path: str | None, target: str | None) -> None:
        jac = _runtime()
        from jaclang.runtimelib.context import ExecutionContext

        self._context_class = ExecutionContext
        self.context = ExecutionContext(base_path_dir=base_path or _MEMORY, full_target_path=target or "memory.jac")
        self._jac = jac
        self._gate: CommitGate | None = None
        # jaclang commits when the outermost spawn ends: only a walk over in time may, once told to.
        memory = self.context.mem
        commit = memory.commit

        def commit_when_told(*args: Any, **kwargs: Any) -> Any:
            gate = self._gate
            if gate is not None and not gate.proceed():
                raise WalkerAbandoned
            return commit(*args, **kwargs)

        memory.commit = commit_when_told

    def root_anchor(self, root_id: str) -> Any:
        """The Jac root of jacws user ``root_id``, made (and committed) on first use."""
        from jaclang.jac0core.archetype import NodeAnchor, Root

        anchor_id = root_uuid(root_id)
        anchor = self.context.mem.get(anchor_id)
        if isinstance(anchor, NodeAnchor):
            return anchor
        token = self._jac.push_request_context(self.context)
        try:
            anchor = Root().__jac__
            anchor.id = anchor_id
            self._jac.save(anchor)  # persistent, as jaclang's own server saves a user's root
            self._jac.commit(anchor)
        finally:
            self._jac.reset_request_context(token)
        return anchor

    def resolve(self, text: str) -> Any:
        """What ``&(text)`` is in a jacws walker: a node of the caller's graph, or another user's :class:`RootRef`.

        Raises:
            Forbidden: not a node of the caller's graph (unknown ids too, so no one can probe ids).
        """
        caller = self._jac.get_context().user_root
        key = text.strip().lower()
        if _SHORT_ID.fullmatch(key):
            anchor_id = root_uuid(key)
        else:
            try:
                anchor_id = uuid.UUID(_PREFIX.sub("", key))
            except ValueError:
                raise Forbidden(f"{text[:80]!r} is not a node of your graph") from None
        if anchor_id == caller.id:
            return caller.archetype
        root_id = jacws_root_id(anchor_id)
        if root_id is not None:
            return RootRef(root_id)
        anchor = self.context.mem.get(anchor_id)
        if anchor is None or not self._jac.check_read_access(anchor):
            raise Forbidden(f"node {text[:80]} is not in your graph")
        return anchor.archetype

    def run(
        self,
        walker_class: type,
        fields: dict[str, Any],
        root_id: str,
        node_id: str | None,
        gate: CommitGate | None = None,
    ) -> list[Any]:
        """Spawn ``walker_class(**fields)`` on the user's root (or ``node_id``), commit, return its reports.

        With a ``gate``, the changes are committed only once the gate says so (a walk stopped by the
        time limit keeps no graph change).
        """
        jac = self._jac
        request = self._context_class(_parent=self.context)
        root = self.root_anchor(root_id)
        request.user_root = root
        request.entry_node = root
        token = jac.push_request_context(request)
        active = _active.set(self)
        watched = observe.watching(root_id)
        said = _reported.set([] if watched else None)
        self._gate = gate
        try:
            start = root.archetype if node_id is None else self._start_node(node_id)
            walker = walker_class(**fields)
            spawned = jac.spawn(walker, start)
            if inspect.iscoroutine(spawned):  # an `async walker`: on an event loop of this thread
                asyncio.run(spawned)
            jac.commit()  # waits for the gate; raises WalkerAbandoned if the walk was stopped
            reports = [to_json(report) for report in walker.reports]
            if watched:
                self._announce(walker_class.__name__, root_id, walker, _reported.get(None) or [])
            return reports
        except BaseException:
            self.context.mem.abort()  # the cache goes too, below
            raise
        finally:
            self._gate = None
            _reported.reset(said)
            _active.reset(active)
            jac.reset_request_context(token)
            self._forget()

    @staticmethod
    def _announce(walker: str, root_id: str, archetype: Any, said: list[tuple[int, Any]]) -> None:
        """Tell the graph's watchers of the change and of the walk: its nodes in order, what was said at each."""
        observe.graph_changed(root_id)
        visits = [  # the walker's path holds anchors, of nodes and of edges walked
            observe.Visit(public_id(place.archetype), tuple(value for at, value in said if at == index))
            for index, place in enumerate(archetype.__jac__.path)
            if type(place).__name__ == "NodeAnchor"
        ]
        observe.walker_ran(walker, root_id, visits)

    def read(self, root_id: str) -> tuple[list[NodeRecord], list[EdgeRecord]]:
        """The user's Jac graph, every node reachable from their root and every edge between them."""
        jac = self._jac
        request = self._context_class(_parent=self.context)
        root = self.root_anchor(root_id)
        request.user_root = root
        request.entry_node = root
        token = jac.push_request_context(request)
        try:
            nodes: dict[str, NodeRecord] = {}
            edges: dict[str, EdgeRecord] = {}
            queue = [root]
            while queue:
                anchor = queue.pop(0)
                node_id = public_id(anchor.archetype)
                if node_id in nodes:
                    continue
                nodes[node_id] = NodeRecord(node_id, root_id, type(anchor.archetype).__name__, _context(anchor))
                for edge in list(anchor.edges):
                    if edge.source.id != anchor.id:
                        continue  # an edge into this node: listed with its source
                    edge_id = public_id(edge.archetype)
                    if edge_id not in edges:
                        target = public_id(edge.target.archetype)
                        kind = type(edge.archetype).__name__
                        edges[edge_id] = EdgeRecord(edge_id, root_id, kind, node_id, target, _context(edge))
                        queue.append(edge.target)
            return list(nodes.values()), list(edges.values())
        finally:
            jac.reset_request_context(token)
            self._forget()

    def _forget(self) -> None:
        """Empty jaclang's cache: the next run reads what is committed, nothing else.

        jaclang leaves in its shared cache what it refused to write (another user's node, say)
        and edges added by a run it aborted; a later commit would write them. Everything
        committed is in the SQLite database, a memory one included.
        """
        memory = self.context.mem
        memory.__mem__.clear()
        memory.put(self.context.system_root)

    def _start_node(self, node_id: str) -> Any:
        # The socket's `node` and the REST path take jacws's 24-hex ids: for a Jac walker, a root.
        start = self.resolve(node_id)
        if isinstance(start, RootRef):
            raise Forbidden(f"node {node_id} is not in your graph")
        return start

    def close(self) -> None:
        """Write back and close jaclang's storage."""
        self.context.close()


_graphs: weakref.WeakKeyDictionary[object, JacGraph] = weakref.WeakKeyDictionary()


def _graph_location(store: object) -> tuple[str | None, str | None]:
    if not isinstance(store, SQLiteStore):  # a database server: a file in the working directory
        return str(Path.cwd()), str(Path.cwd() / "jacws.jac")
    if store.path == ":memory:":
        return None, None  # in memory, like the store
    file = Path(store.path).resolve()
    return str(file.parent), str(file)


def _context(anchor: Any) -> dict[str, Any]:
    shown = to_json(anchor.archetype)
    return dict(shown["context"]) if isinstance(shown, dict) else {}


def read_graph(store: object, root_id: str, timeout: float = 10) -> tuple[list[NodeRecord], list[EdgeRecord]]:
    """A user's Jac graph kept beside ``store`` (read on the Jac thread); empty if it has none yet."""
    if store not in _graphs:
        return [], []
    return _jac_thread().submit(lambda: graph_for(store).read(root_id)).result(timeout)


def graph_for(store: object) -> JacGraph:
    """The Jac graph of ``store`` (call on the Jac thread); made on first use."""
    graph = _graphs.get(store)
    if graph is None:
        graph = JacGraph(*_graph_location(store))
        _graphs[store] = graph
    return graph


def close_graph(store: object, wait: float = 5.0) -> None:
    """Write back and close ``store``'s Jac graph, if it has one (waits ``wait`` s for a running walker)."""
    thread = _thread
    if thread is None or store not in _graphs:
        return

    def close() -> None:
        graph = _graphs.pop(store, None)
        if graph is not None:
            graph.close()

    try:
        thread.submit(close).result(timeout=max(wait, 1.0))
    except TimeoutError:
        log.warning("a Jac walker still runs; its graph is closed when it ends")


# -- walkers ---------------------------------------------------------------------------------


class _JacNotifier:
    """Passes ``socket.notify_*`` on, turning Jac roots and nodes into what jacws sends."""

    def __init__(self, inner: Notifier) -> None:
        self.inner = inner

    def notify_self(self, data: dict[str, Any]) -> None:
        self.inner.notify_self(to_json(data))

    def notify_users(self, roots: Iterable[Any], data: dict[str, Any]) -> None:
        if isinstance(roots, (str, RootRef)) or hasattr(roots, "__jac__"):
            raise InvalidTarget("notify_users takes a list of roots or root ids, not a single one")
        self.inner.notify_users([_root_id(root) for root in roots], to_json(data))

    def notify_channels(self, channel_ids: Iterable[str], data: dict[str, Any]) -> None:
        self.inner.notify_channels(channel_ids, to_json(data))

    def notify_clients(self, client_ids: Iterable[str], data: dict[str, Any]) -> None:
        self.inner.notify_clients(client_ids, to_json(data))


def _root_id(root: Any) -> Any:
    if isinstance(root, RootRef):
        return root.root_id
    if not hasattr(root, "__jac__"):
        return root
    found = jacws_root_id(root.__jac__.id)
    if found is None:
        raise InvalidTarget("notify_users: that Jac node is not a user's root")
    return found


class JacWalker(Walker, abstract=True):
    """A walker written in Jac: fields and specs from its Jac class, walked by jaclang."""

    __jacws_jac__: ClassVar[type]

    async def _jacws_walk(self, session: GraphSession, executor: Executor, node_id: str | None) -> None:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        context.run(_current_notifier.set, _JacNotifier(_current_notifier.get()))
        walked: asyncio.Future[None] = loop.create_future()
        gate = self._gate = CommitGate(loop, walked)
        run = functools.partial(_run_on_graph, type(self).__jacws_jac__, self.fields, session, node_id, gate)
        running = self._running = asyncio.ensure_future(loop.run_in_executor(_jac_thread(), context.run, run))
        running.add_done_callback(_retrieved)  # (an abandoned run's WalkerAbandoned is nobody's business)
        try:
            await asyncio.wait({walked, running}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the time limit passed, or the server stops: keep nothing
            gate.abandoned.set()
            raise
        if running.done():  # over before its commit: it raised
            self.reports = running.result()

    async def _jacws_commit(self, session: GraphSession, executor: Executor) -> None:
        self._gate.go.set()
        self.reports = await self._running


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _run_on_graph(
    walker_class: type, fields: dict[str, Any], session: GraphSession, node_id: str | None, gate: CommitGate
) -> list[Any]:
    return graph_for(session.store).run(walker_class, fields, session.root_id, node_id, gate)


def _adapt(jac_class: type, module: ModuleType) -> type[Walker]:
    """A jacws walker class standing for ``jac_class``."""
    namespace: dict[str, Any] = {
        "__module__": module.__name__,
        "__qualname__": jac_class.__name__,
        "__doc__": _docstring(jac_class),
        "__jacws_jac__": jac_class,
    }
    specs = jac_class.__dict__.get("__specs__")
    if specs is not None:
        namespace["__specs__"] = specs
    annotations: dict[str, Any] = {}
    for field in dataclasses.fields(jac_class):
        if field.name.startswith("_") or field.name == "reports" or not field.init:
            continue  # `by postinit` fields are not given by callers
        annotations[field.name] = _field_type(jac_class, field, module)
        if field.default is not dataclasses.MISSING:
            namespace[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            namespace[field.name] = pydantic.Field(default_factory=field.default_factory)
    namespace["__annotations__"] = annotations
    return type(jac_class.__name__, (JacWalker,), namespace)


def _docstring(jac_class: type) -> str | None:
    doc = jac_class.__doc__
    if doc is None or doc.startswith(f"{jac_class.__name__}("):
        return None  # the signature dataclasses writes when a class has no docstring
    return doc


def _field_type(jac_class: type, field: dataclasses.Field[Any], module: ModuleType) -> Any:
    if not isinstance(field.type, str):
        return field.type
    try:  # what typing.get_type_hints does, one field at a time
        return eval(field.type, vars(module))  # the walker file's own annotation
    except Exception:
        return Any  # a type jaclang knows and Python cannot name: accept any JSON value


# -- loading ---------------------------------------------------------------------------------


def load_jac(
    path: str | Path | None = None, *, source: str | None = None, name: str | None = None
) -> list[type[Walker]]:
    """Load a ``.jac`` file (or Jac ``source``, e.g. a notebook cell): its walkers join the registry.

    Loading a file again replaces its walkers, as redefining a Python walker does.

    Args:
        path: a ``.jac`` file.
        source: Jac source instead of a file.
        name: the module name for ``source`` (default ``jac_cell``).

    Returns:
        The walker classes now served, in the file's order.

    Raises:
        JacUnavailable: the ``jac`` extra is not installed.
        JacLoadError: the file does not compile or raises while importing.
        FileNotFoundError: there is no such file.
    """
    if (path is None) == (source is None):
        raise TypeError("load_jac takes a path or source=, not both")
    _runtime()
    if source is not None:
        folder = Path(tempfile.mkdtemp(prefix="jacws-jac-"))
        file = folder / f"{name or 'jac_cell'}.jac"
        file.write_text(source, encoding="utf-8")
    else:
        file = Path(path).resolve()  # type: ignore[arg-type]
        if not file.is_file():
            raise FileNotFoundError(f"no such Jac file: {path}")
    module = _import(file)
    return _register(module)


def _import(file: Path) -> ModuleType:
    from jaclang.meta_importer import JacMetaImporter

    loader = next((f for f in sys.meta_path if isinstance(f, JacMetaImporter)), None)
    if loader is None:  # pragma: no cover - jaclang installs it on import
        raise JacUnavailable("jaclang's .jac importer is not installed")
    name = file.stem if file.stem.isidentifier() else "jac_walkers"
    spec = importlib.util.spec_from_file_location(name, file, loader=loader)
    if spec is None:  # pragma: no cover - a file location always gives a spec
        raise JacLoadError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    if str(file.parent) not in sys.path:
        sys.path.insert(0, str(file.parent))
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        loader.exec_module(module)
    except Exception as error:
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
        problems = _compile_errors(file)
        if problems:
            raise JacLoadError(f"{file.name} does not compile: " + "; ".join(problems)) from error
        raise JacLoadError(f"{file.name} did not load: {type(error).__name__}: {error}") from error
    return module


def _compile_errors(file: Path) -> list[str]:
    """jaclang's compile errors for ``file``, as ``line L, col C: message``."""
    from jaclang.jac0core.program import JacProgram

    program = JacProgram()
    with contextlib.suppress(Exception):  # the errors gathered so far still say what is wrong
        program.compile(str(file))
    return [str(e).replace(f"{file}, ", "") for e in program.errors_had]


def _register(module: ModuleType) -> list[type[Walker]]:
    from jaclang.jac0core.archetype import Root, WalkerArchetype

    served: list[type[Walker]] = []
    for value in list(vars(module).values()):
        if isinstance(value, type) and issubclass(value, WalkerArchetype) and value.__module__ == module.__name__:
            _accept_root_trigger(value, Root)
            served.append(_adapt(value, module))
    return served


def _accept_root_trigger(walker_class: type, root_type: type) -> None:
    """Read a `` `root `` ability trigger (jac-cloud's spelling) as ``Root``.

    Current jaclang compiles `` with `root entry `` to a trigger naming ``root``, the function
    that returns the caller's root, which it then rejects; jac-cloud meant the root type.
    """
    from jaclang.jac0core import jaclib

    abilities = [*getattr(walker_class, "_jac_entry_funcs_", ()), *getattr(walker_class, "_jac_exit_funcs_", ())]
    for ability in abilities:
        original = getattr(ability, "trigger_override", None)
        if original is None or not callable(original):
            continue

        def trigger(original: Any = original) -> Any:
            try:
                kind = original()
            except NameError as error:
                if error.name == "root":
                    return root_type
                raise
            return root_type if kind is jaclib.root else kind

        ability.trigger_override = trigger


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jacws.jac`` adds the ``%%jac`` cell magic: the cell's Jac walkers join the registry."""

    def jac(line: str, cell: str) -> None:
        walkers = load_jac(source=cell, name=line.strip() or None)
        print("serving", ", ".join(w.__name__ for w in walkers) or "no walkers")

    ipython.register_magic_function(jac, magic_kind="cell", magic_name="jac")

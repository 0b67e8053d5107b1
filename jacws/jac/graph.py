"""The Jac graph kept beside a jacws store, and the gate between a Jac walk and its commit."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import threading
import uuid
import weakref
from pathlib import Path
from typing import Any

from .. import observe
from ..errors import Forbidden, WalkerAbandoned
from ..graph_session import EdgeRecord, NodeRecord
from ..stores import SQLiteStore
from . import engine
from .ids import RootRef, jacws_root_id, public_id, root_uuid, to_json

log = logging.getLogger("jacws.jac")

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


class JacGraph:
    """The Jac graph kept beside one jacws store: in memory, or in jaclang's SQLite file.

    Every method runs on the ``jacws-jac`` thread.

    Args:
        base_path: directory under which jaclang keeps ``.jac/data/<name>.db``; ``None`` for memory.
        target: the file whose stem names the database (jaclang's choice of name).
    """

    def __init__(self, base_path: str | None, target: str | None) -> None:
        jac = engine.runtime()
        from jaclang.runtimelib.context import ExecutionContext

        self._context_class = ExecutionContext
        self.context = ExecutionContext(
            base_path_dir=base_path or engine.MEMORY, full_target_path=target or "memory.jac"
        )
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
        active = engine.active_graph.set(self)
        watched = observe.watching(root_id)
        said = engine.reports_said.set([] if watched else None)
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
                self._announce(walker_class.__name__, root_id, walker, engine.reports_said.get(None) or [])
            return reports
        except BaseException:
            self.context.mem.abort()  # the cache goes too, below
            raise
        finally:
            self._gate = None
            engine.reports_said.reset(said)
            engine.active_graph.reset(active)
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
    return engine.jac_thread().submit(lambda: graph_for(store).read(root_id)).result(timeout)


def graph_for(store: object) -> JacGraph:
    """The Jac graph of ``store`` (call on the Jac thread); made on first use."""
    graph = _graphs.get(store)
    if graph is None:
        graph = JacGraph(*_graph_location(store))
        _graphs[store] = graph
    return graph


def close_graph(store: object, wait: float = 5.0) -> None:
    """Write back and close ``store``'s Jac graph, if it has one (waits ``wait`` s for a running walker)."""
    thread = engine.started_thread()
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

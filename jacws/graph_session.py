"""One walker run's view of one user's graph: an identity map over a store, loading on demand, saving what changed."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from .errors import Forbidden
from .graph import Edge, Node, Root, edge_type, node_type
from .protocol import encode, normalize_node_id

__all__ = ["EdgeRecord", "GraphSession", "GraphStore", "NodeRecord"]

N = TypeVar("N", bound=Node)


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A node as stored: its id, owner root, type name and field values."""

    id: str
    root_id: str
    type: str
    context: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EdgeRecord:
    """An edge as stored."""

    id: str
    root_id: str
    type: str
    source: str
    target: str
    context: dict[str, Any]


class GraphStore(Protocol):
    """What a :class:`GraphSession` needs from a store."""

    def load_node(self, node_id: str) -> NodeRecord | None: ...

    def load_out_edges(self, root_id: str, node_id: str) -> list[EdgeRecord]: ...

    def save_graph(
        self,
        nodes: list[NodeRecord],
        edges: list[EdgeRecord],
        deleted_nodes: list[str],
        deleted_edges: list[str],
    ) -> None: ...


def _dump(context: dict[str, Any]) -> bytes:
    return encode(context)


class GraphSession:
    """One walker run's view of one user's graph.

    Loads nodes and edges on demand, refuses nodes of other users, and writes back
    new, changed and deleted archetypes in :meth:`commit`. Thread-safe for use from
    an ability running in a worker thread.
    """

    def __init__(self, store: GraphStore, root_id: str) -> None:
        self.store = store
        self.root_id = root_id
        self._lock = threading.RLock()
        self._nodes: dict[str, Node] = {}
        self._out: dict[str, list[Edge]] = {}
        self._added: dict[str, list[Edge]] = {}  # new edges from nodes whose stored edges are not loaded
        self._released = False
        self._new: set[str] = set()
        self._deleted_nodes: set[str] = set()
        self._deleted_edges: set[str] = set()

    def release(self) -> None:
        """The run is over: let go of every node and edge at once (they point back at the session, so they
        would otherwise wait for the cycle collector); an ability still running, past its time limit, stops
        at its next graph call."""
        with self._lock:
            self._released = True
            for node in self._nodes.values():
                node._session = None
            for edges in (*self._out.values(), *self._added.values()):
                for edge in edges:
                    edge._session = None
            self._nodes, self._out, self._added = {}, {}, {}
            self._new, self._deleted_nodes, self._deleted_edges = set(), set(), set()

    def _check_open(self) -> None:
        if self._released:
            raise RuntimeError("this walker run is over: its graph was released")

    @property
    def size(self) -> int:
        """How many nodes and edges this session holds."""
        with self._lock:
            edges = sum(map(len, self._out.values())) + sum(map(len, self._added.values()))
            return len(self._nodes) + edges

    def root(self) -> Root:
        """The user's root node. Roots have no fields, so this needs no store read."""
        with self._lock:
            self._check_open()
            node = self._nodes.get(self.root_id)
            if node is None:
                node = Root.__new__(Root)
                node.id = self.root_id
                node._session = self
                node._snapshot = b"{}"
                self._nodes[self.root_id] = node
            assert isinstance(node, Root)
            return node

    def get_node(self, node_id: str) -> Node:
        """The node with this id, if it belongs to this user's graph.

        Raises:
            Forbidden: the id is unknown or the node belongs to another user.
        """
        node_id = normalize_node_id(node_id)
        with self._lock:
            self._check_open()
            node = self._nodes.get(node_id)
            if node is not None:
                return node
            if node_id == self.root_id:
                return self.root()
            record = self.store.load_node(node_id)
            if record is None or record.root_id != self.root_id or node_id in self._deleted_nodes:
                raise Forbidden(f"no access to node {node_id}")
            return self._adopt_record(record)

    def add_edge(self, source: Node, target: Node, edge: Edge) -> None:
        """Connect ``source`` to ``target`` with ``edge``, adopting new nodes."""
        with self._lock:
            self._check_open()
            for node in (source, target):
                self._adopt(node)
            if edge._session is not None:
                raise ValueError("this edge already connects two nodes")
            edge.source_id, edge.target_id = source.id, target.id
            edge._session = self
            self._new.add(edge.id)
            loaded = self._out.get(source.id)
            if loaded is None and source.id not in self._new:
                # Connecting needs none of the stored edges: load them only if this run reads them.
                self._added.setdefault(source.id, []).append(edge)
            else:
                self.out_edges(source).append(edge)

    def remove_edges(self, source: Node, target: Node) -> int:
        """Remove the edges from ``source`` to ``target``."""
        with self._lock:
            edges = self.out_edges(source)
            gone = [e for e in edges if e.target_id == target.id]
            for edge in gone:
                edges.remove(edge)
                self._forget_edge(edge)
            return len(gone)

    def destroy(self, node: Node) -> None:
        """Delete ``node`` and the edges from it; edges pointing at it are skipped on load."""
        with self._lock:
            if node.id == self.root_id:
                raise ValueError("a root cannot be destroyed")
            for edge in self.out_edges(node):
                self._forget_edge(edge)
            self._out[node.id] = []
            self._nodes.pop(node.id, None)
            if node.id in self._new:
                self._new.discard(node.id)
            else:
                self._deleted_nodes.add(node.id)
            for edges in (*self._out.values(), *self._added.values()):
                for edge in [e for e in edges if e.target_id == node.id]:
                    edges.remove(edge)
                    self._forget_edge(edge)
            node._session = None

    def out_edges(self, node: Node) -> list[Edge]:
        """The (live, mutable) list of edges leaving ``node``."""
        with self._lock:
            self._check_open()
            edges = self._out.get(node.id)
            if edges is None:
                edges = []
                added = self._added.pop(node.id, [])
                if node.id not in self._new:
                    held = {edge.id for edge in added}  # committed already: this run's objects stand for them
                    for record in self.store.load_out_edges(self.root_id, node.id):
                        if record.target not in self._deleted_nodes and record.id not in held:
                            edges.append(self._edge_from_record(record))
                edges.extend(added)
                self._out[node.id] = edges
            return edges

    def commit(self) -> None:
        """Write new, changed and deleted nodes and edges to the store."""
        changes = self.take_changes()
        if changes is not None:
            self.store.save_graph(*changes)

    def take_changes(
        self,
    ) -> tuple[list[NodeRecord], list[EdgeRecord], list[str], list[str]] | None:
        """What changed since loading or the last call, as ``save_graph`` arguments (None if nothing).

        Cheap and store-free, so it can run on the loop and leave the write to a thread.
        """
        with self._lock:
            nodes: list[NodeRecord] = []
            for node in self._nodes.values():
                if not type(node).__jacws_fields__ and node._raw_context is None and node.id not in self._new:
                    continue  # a loaded node without fields (a root) cannot have changed
                dumped = _dump(node.context)
                if node.id in self._new or dumped != node._snapshot:
                    nodes.append(NodeRecord(node.id, self.root_id, _type_name(node), node.context))
                    node._snapshot = dumped
            edges: list[EdgeRecord] = []
            for out in (*self._out.values(), *self._added.values()):
                for edge in out:
                    dumped = _dump(edge.context)
                    if edge.id in self._new or dumped != edge._snapshot:
                        edges.append(
                            EdgeRecord(
                                edge.id, self.root_id, type(edge).__name__, edge.source_id, edge.target_id, edge.context
                            )
                        )
                        edge._snapshot = dumped
            deleted_nodes, deleted_edges = sorted(self._deleted_nodes), sorted(self._deleted_edges)
            self._new.clear()
            self._deleted_nodes.clear()
            self._deleted_edges.clear()
            if nodes or edges or deleted_nodes or deleted_edges:
                return nodes, edges, deleted_nodes, deleted_edges
            return None

    def _forget_edge(self, edge: Edge) -> None:
        if edge.id in self._new:
            self._new.discard(edge.id)
        else:
            self._deleted_edges.add(edge.id)
        edge._session = None

    def _adopt(self, node: Node) -> None:
        if node._session is self:
            return
        if node._session is not None:
            raise Forbidden(f"node {node.id} belongs to another graph")
        self._adopt_new(node, node.id)

    def _adopt_new(self, node: N, node_id: str) -> N:
        node.id = node_id
        node._session = self
        self._nodes[node_id] = node
        self._new.add(node_id)
        return node

    def _adopt_record(self, record: NodeRecord) -> Node:
        cls = node_type(record.type)
        if record.id == self.root_id or record.type == "Root":
            cls = Root
        node: Node
        if cls is None:
            node = Node._from_record(record.id, {})
            node._type_name = record.type
            node._raw_context = dict(record.context)
        else:
            node = cls._from_record(record.id, record.context)
        node._session = self
        node._snapshot = _dump(node.context)
        self._nodes[record.id] = node
        return node

    def _edge_from_record(self, record: EdgeRecord) -> Edge:
        cls = edge_type(record.type)
        edge = cls._from_record(record.id, record.context)
        edge.source_id, edge.target_id = record.source, record.target
        edge._session = self
        edge._snapshot = _dump(edge.context)
        return edge


def _type_name(node: Node) -> str:
    return node._type_name or type(node).__name__

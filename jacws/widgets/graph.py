"""The graph view: one client's user graph drawn live, with the path of the latest walk over it."""

from __future__ import annotations

import sys
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import anywidget
import orjson
import traitlets

from .. import observe
from ..client import Client, Message
from ..errors import JacWSError
from ..graph_session import EdgeRecord, NodeRecord
from ..protocol import encode
from .updates import WIDGETS_LOCK, UpdateQueue

__all__ = ["GraphView"]

HERE = Path(__file__).parent
VENDOR = HERE / "vendor" / "cytoscape.min.js"  # Cytoscape.js 3.35 (MIT, vendor/LICENSE-cytoscape.txt)

LABEL_FIELDS = 2
"""How many of a node's fields its label shows (all of them on click)."""


def _esm() -> str:
    """The view's module: Cytoscape.js (its UMD build, given a module object of its own) and graph.js."""
    library = VENDOR.read_text(encoding="utf-8")
    wrapped = (
        "const cytoscape = (() => {\n  const module = { exports: {} };\n  const exports = module.exports;\n"
        + library
        + "\n  return module.exports;\n})();\n"
    )
    return wrapped + (HERE / "graph.js").read_text(encoding="utf-8")


def _short(value: Any, limit: int = 24) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _node(record: NodeRecord) -> dict[str, Any]:
    shown = list(record.context.items())[:LABEL_FIELDS]
    label = record.type + "".join(f"\n{name}: {_short(value)}" for name, value in shown)
    return {
        "id": record.id,
        "type": record.type,
        "label": label,
        "fields": orjson.dumps(record.context).decode(),
        "root": record.id == record.root_id,
    }


def _edge(record: EdgeRecord) -> dict[str, Any]:
    label = "" if record.type == "Edge" else record.type  # a plain edge needs no name on the drawing
    return {"id": record.id, "source": record.source, "target": record.target, "type": record.type, "label": label}


class GraphView(anywidget.AnyWidget):
    """A client's user graph: the root, every node with its type and fields, every edge, live.

    It redraws within a second of a saved change to the graph (by any client of the user, or
    over REST) and, after each walker run, highlights the nodes visited in order with what
    was reported at each. While a view watches a graph the server records the runs over it
    (:mod:`jacws.observe`); nobody watching, nothing is recorded.

    From Python: :attr:`nodes` (ids), :attr:`edges` (``(source, target)`` pairs), :attr:`path`
    (the node ids of the latest run, in order), :attr:`walker` (its walker).

    Args:
        client: whose user's graph (it follows the client through ``change_user``).
        server: the client's server, in this process (found from the client's URL when omitted).
    """

    _esm = _esm()
    _css = HERE / "graph.css"
    root = traitlets.Unicode().tag(sync=True)
    graph_nodes = traitlets.List(traitlets.Dict()).tag(sync=True)
    graph_edges = traitlets.List(traitlets.Dict()).tag(sync=True)
    walk = traitlets.Dict().tag(sync=True)

    def __init__(self, client: Client, server: Any | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from ..server import find_server  # the server module is imported lazily, as in jacws

        self.client = client
        found = server if server is not None else find_server(client.ws_url)
        if found is None:
            raise JacWSError(f"no server of this process serves {client.ws_url}: the graph view reads its store")
        self.server: Any = found
        self.updates = UpdateQueue(self._apply, interval=0.25)
        self._watching: str | None = None
        self._jac_part: tuple[list[NodeRecord], list[EdgeRecord]] = ([], [])
        self._stop_watching: Any = None
        client.subscribe(on_message=self._on_message, on_state=lambda _client: self.updates.push(None))
        with WIDGETS_LOCK:
            self._apply([None])
        self.add_class("jacws-graph-view")

    # -- from any thread -------------------------------------------------------------------

    def _on_message(self, _client: Client, message: Message) -> None:
        if message.kind == "connection":  # change_user or a reconnect may change whose graph it is
            self.updates.push(None)

    def _on_graph(self, _root_id: str, run: observe.Run | None) -> None:
        self.updates.push(run)

    # -- the display thread ----------------------------------------------------------------

    def _apply(self, batch: list[observe.Run | None]) -> None:
        root_id = self.client.root_id
        if root_id != self._watching:
            if self._stop_watching is not None:
                self._stop_watching()
            self._stop_watching = observe.watch(root_id, self._on_graph) if root_id else None
            self._watching = root_id
        runs = [item for item in batch if item is not None and item.root_id == root_id]
        if self.server.state.value != "running" or self.server.runtime is None:
            return  # stopped: the last graph drawn stays until it runs again
        store = self.server.runtime.store
        nodes, edges = self._read(store, root_id) if root_id else ([], [])
        with self.hold_sync():
            self.root = root_id or ""
            self.graph_nodes = [_node(n) for n in nodes]
            self.graph_edges = [_edge(e) for e in edges]
            if runs:
                latest = runs[-1]
                self.walk = {
                    "walker": latest.walker,
                    "at": latest.at,
                    "path": [visit.node_id for visit in latest.visits],
                    "reports": [[encode(report).decode() for report in visit.reports] for visit in latest.visits],
                }
            elif self.walk and not set(self.walk.get("path", [])) <= {n.id for n in nodes}:
                self.walk = {}  # another user's walk (change_user), or nodes since deleted

    def _read(self, store: Any, root_id: str) -> tuple[list[NodeRecord], list[EdgeRecord]]:
        """The user's graph: what Python walkers keep in the store, and what Jac walkers keep beside it."""
        nodes, edges = store.load_graph(root_id)
        jac = sys.modules.get("jacws.jac")  # loaded only when Jac walkers are
        if jac is not None:
            try:
                jac_nodes, jac_edges = jac.read_graph(store, root_id, timeout=2)
            except (TimeoutError, FutureTimeout):  # a Jac walker holds the Jac thread: its part next time
                jac_nodes, jac_edges = self._jac_part
            self._jac_part = (jac_nodes, jac_edges)
            known = {node.id for node in nodes}  # the user's root is in both
            nodes = nodes + [node for node in jac_nodes if node.id not in known]
            edges = edges + jac_edges
        return nodes, edges

    @property
    def nodes(self) -> list[str]:
        """The node ids drawn (the root first)."""
        return [node["id"] for node in self.graph_nodes]

    @property
    def edges(self) -> list[tuple[str, str]]:
        """The edges drawn, as ``(source, target)`` pairs."""
        return [(edge["source"], edge["target"]) for edge in self.graph_edges]

    @property
    def path(self) -> list[str]:
        """The node ids the latest walker run visited, in order."""
        return list(self.walk.get("path", []))

    @property
    def walker(self) -> str | None:
        """The walker of the latest run shown."""
        return self.walk.get("walker")

    def close(self) -> None:
        """Stop watching the graph and close the widget."""
        if self._stop_watching is not None:
            self._stop_watching()
            self._stop_watching = None
        super().close()

    def flush(self) -> int:
        """Apply pending updates now."""
        return self.updates.flush()

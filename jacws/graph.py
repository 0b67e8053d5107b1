"""Nodes, edges and roots: typed archetypes and their fields.

Archetypes live in a user's graph through a :class:`~jacws.graph_session.GraphSession`, one walker
run's view of the graph in a store. Nodes are reported to clients as ``{"id": "n::...", "context": {...}}``.
"""

from __future__ import annotations

import inspect
import threading
import typing
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pydantic

from .protocol import new_edge_id, new_node_id

if TYPE_CHECKING:
    from .graph_session import GraphSession

__all__ = [
    "Archetype",
    "Edge",
    "Node",
    "Root",
    "archetype_fields",
    "edge_type",
    "node_type",
]

A = TypeVar("A", bound="Archetype")
N = TypeVar("N", bound="Node")

_OWN_MODULES = frozenset({"jacws.graph", "jacws.walkers"})  # their annotations are not user fields
_types_lock = threading.Lock()
_node_types: dict[str, type[Node]] = {}
_edge_types: dict[str, type[Edge]] = {}


def archetype_fields(cls: type) -> dict[str, tuple[Any, Any]]:
    """The typed fields a class declares: ``{name: (annotation, default or ...)}``.

    Private names (leading underscore) and ``ClassVar`` annotations are not fields.
    """
    fields: dict[str, tuple[Any, Any]] = {}
    for klass in reversed(cls.__mro__):
        own = inspect.get_annotations(klass)
        if not own or klass.__module__ in _OWN_MODULES:
            continue
        hints = typing.get_type_hints(klass, include_extras=True)
        for name in own:
            hint = hints.get(name)
            if name.startswith("_") or typing.get_origin(hint) is ClassVar or hint is ClassVar:
                continue
            fields[name] = (hint, klass.__dict__.get(name, ...))
    return fields


class Archetype:
    """Base of nodes and edges: typed fields validated on construction."""

    __jacws_model__: ClassVar[type[pydantic.BaseModel]]
    __jacws_fields__: ClassVar[tuple[str, ...]] = ()

    id: str
    _session: Any  # its GraphSession or None (Any: users' classes have their hints read at run time)
    _snapshot: bytes | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = archetype_fields(cls)
        for name, (_, default) in fields.items():
            if name in cls.__dict__ and default is not ...:
                delattr(cls, name)  # defaults live in the model, instances carry values
        cls.__jacws_fields__ = tuple(fields)
        cls.__jacws_model__ = pydantic.create_model(  # type: ignore[call-overload]
            cls.__name__,
            __config__=pydantic.ConfigDict(arbitrary_types_allowed=True),
            **fields,
        )

    def __init__(self, **fields: Any) -> None:
        model = type(self).__jacws_model__.model_validate(fields)
        for name in type(self).__jacws_fields__:
            object.__setattr__(self, name, getattr(model, name))
        self.id = self._new_id()
        self._session = None
        self._snapshot = None

    @staticmethod
    def _new_id() -> str:
        raise NotImplementedError

    @property
    def context(self) -> dict[str, Any]:
        """The field values, as a dict."""
        return {name: getattr(self, name) for name in type(self).__jacws_fields__}

    def __jacws_json__(self) -> dict[str, Any]:
        return {"id": self.id, "context": self.context}

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.context.items())
        return f"{type(self).__name__}({fields})"

    @classmethod
    def _from_record(cls: type[A], record_id: str, context: dict[str, Any]) -> A:
        self = cls.__new__(cls)
        values: dict[str, Any] = {}
        if cls.__jacws_fields__:
            try:
                model = cls.__jacws_model__.model_validate(context)
                values = {name: getattr(model, name) for name in cls.__jacws_fields__}
            except pydantic.ValidationError:
                values = {name: context.get(name) for name in cls.__jacws_fields__}
        for name, value in values.items():
            object.__setattr__(self, name, value)
        self.id = record_id
        self._session = None
        self._snapshot = None
        return self


class Node(Archetype):
    """A node of a user's graph. Subclass it with typed fields::

    class Message(Node):
        text: str
    """

    _type_name: str | None = None  # the stored type, kept when the class is not defined here
    _raw_context: dict[str, Any] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        with _types_lock:
            _node_types[cls.__name__] = cls

    @staticmethod
    def _new_id() -> str:
        return new_node_id()

    @property
    def context(self) -> dict[str, Any]:
        """The field values, as a dict."""
        if self._raw_context is not None:
            return dict(self._raw_context)
        return super().context

    def connect(self, other: N, edge: Edge | None = None) -> N:
        """Add an edge from this node to ``other`` (Jac's ``++>``) and return ``other``."""
        session = self._require_session()
        session.add_edge(self, other, edge or Edge())
        return other

    def disconnect(self, other: Node) -> int:
        """Remove every edge from this node to ``other``; return how many were removed."""
        return self._require_session().remove_edges(self, other)

    def nodes(self, node_type: type[N] | None = None, edge_type: type[Edge] | None = None) -> list[N]:
        """The nodes this node points to, optionally only of a node or edge type."""
        session = self._require_session()
        found: list[Any] = []
        for edge in session.out_edges(self):
            if edge_type is not None and not isinstance(edge, edge_type):
                continue
            target = session.get_node(edge.target_id)
            if node_type is None or isinstance(target, node_type):
                found.append(target)
        return found

    def edges(self, edge_type: type[Edge] | None = None) -> list[Edge]:
        """The edges leaving this node, optionally only of one type."""
        return [e for e in self._require_session().out_edges(self) if edge_type is None or isinstance(e, edge_type)]

    def destroy(self) -> None:
        """Delete this node and every edge touching it."""
        self._require_session().destroy(self)

    def _require_session(self) -> GraphSession:
        if self._session is None:
            raise RuntimeError(
                f"{type(self).__name__} is not in a graph yet: connect it to the walker's root or to a node in it"
            )
        session: GraphSession = self._session
        return session


class Root(Node):
    """A user's root node: every registered user has one; anonymous users share one."""


class Edge(Archetype):
    """An edge between two nodes of one user's graph; subclass it for typed edges."""

    source_id: str = ""
    target_id: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        with _types_lock:
            _edge_types[cls.__name__] = cls

    @staticmethod
    def _new_id() -> str:
        return new_edge_id()

    def __jacws_json__(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source_id, "target": self.target_id, "context": self.context}


Node.__jacws_fields__ = ()
Node.__jacws_model__ = pydantic.create_model("Node")
Edge.__jacws_fields__ = ()
Edge.__jacws_model__ = pydantic.create_model("Edge")


def node_type(name: str) -> type[Node] | None:
    """The node class defined under ``name`` (the latest definition), if any."""
    return _node_types.get(name)


def edge_type(name: str) -> type[Edge]:
    """The edge class defined under ``name``, else the plain :class:`Edge`."""
    return _edge_types.get(name, Edge)

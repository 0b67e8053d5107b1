"""Walkers: typed fields, ``__specs__``, entry/exit abilities, the registry and the runner.

A walker class registers itself in :data:`registry` when it is defined, so a walker
declared in a notebook cell while a server runs is live at once; defining a class of
the same name again replaces it.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import sys
import threading
import typing
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
import pydantic

from . import observe
from .deadlines import within
from .errors import (
    ClientError,
    InvalidEvent,
    JacWSError,
    SpecsError,
    WalkerFailed,
    WalkerTimedOut,
)
from .graph import Node, Root, archetype_fields
from .graph_session import GraphSession
from .memory import reclaim_after
from .notify import Notifier, current_notifier, socket
from .protocol import encode
from .specs import Specs
from .uploads import FileKind, file_fields

__all__ = [
    "Notifier",
    "Specs",
    "Walker",
    "WalkerRegistry",
    "describe_walker",
    "on_entry",
    "on_exit",
    "registry",
    "run_walker",
    "socket",
]

log = logging.getLogger("jacws.walkers")

RESERVED_NAMES = frozenset({"report", "reports", "visit", "disengage", "here", "root", "socket"})


@dataclass(frozen=True)
class Ability:
    """An entry or exit ability and the node types it runs on (empty: any node)."""

    name: str
    when: str
    types: tuple[type[Node], ...]
    is_async: bool
    takes_here: bool

    def matches(self, here: Node) -> bool:
        """Whether the ability runs on ``here``."""
        return not self.types or isinstance(here, self.types)


_ABILITY_MARK = "__jacws_ability__"


def _ability_decorator(when: str, args: tuple[Any, ...]) -> Any:
    def mark(fn: Callable[..., Any], types: tuple[type[Node], ...]) -> Callable[..., Any]:
        for t in types:
            if not (isinstance(t, type) and issubclass(t, Node)):
                raise TypeError(f"@on_{when} takes node types such as Root, got {t!r}")
        setattr(fn, _ABILITY_MARK, (when, types))
        return fn

    if len(args) == 1 and callable(args[0]) and not isinstance(args[0], type):
        return mark(args[0], ())
    return lambda fn: mark(fn, tuple(args))


def on_entry(*types: Any) -> Any:
    """Mark a method as an entry ability: ``@on_entry(Root)``, ``@on_entry(Message)`` or ``@on_entry``."""
    return _ability_decorator("entry", types)


def on_exit(*types: Any) -> Any:
    """Mark a method as an exit ability, run after the entry abilities on a node."""
    return _ability_decorator("exit", types)


class Walker:
    """Base class of walkers. Subclass it with typed fields, ``__specs__`` and abilities."""

    __jacws_model__: ClassVar[type[pydantic.BaseModel]]
    __jacws_fields__: ClassVar[dict[str, tuple[Any, Any]]] = {}
    __jacws_files__: ClassVar[dict[str, FileKind]] = {}  # its file fields: "file" or "files" (a list)
    __jacws_specs__: ClassVar[Specs] = Specs()
    __jacws_abilities__: ClassVar[tuple[Ability, ...]] = ()

    reports: list[Any]
    here: Node | None
    root: Root | None

    def __init_subclass__(cls, abstract: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if abstract:  # a base for other walkers (e.g. jacws.jac's), not a walker itself
            return
        name = cls.__name__
        cls.__jacws_specs__ = Specs.from_class(name, cls.__dict__.get("__specs__"))
        fields = archetype_fields(cls)
        clash = sorted(set(fields) & RESERVED_NAMES)
        if clash:
            raise SpecsError(f"walker {name} uses reserved names {clash} as fields")
        cls.__jacws_fields__ = fields
        cls.__jacws_files__ = file_fields(fields)
        for field_name, (_, default) in fields.items():
            if field_name in cls.__dict__ and default is not ...:
                delattr(cls, field_name)
        cls.__jacws_model__ = pydantic.create_model(  # type: ignore[call-overload]
            name, __config__=pydantic.ConfigDict(arbitrary_types_allowed=True), **fields
        )
        cls.__jacws_abilities__ = tuple(_collect_abilities(cls))
        registry.register(cls)

    def __init__(self, /, **fields: Any) -> None:
        """Build a walker from field values (validated as a REST body would be).

        Raises:
            InvalidEvent: a field is missing or has the wrong type; details name it.
        """
        self._set_fields(type(self).validate(fields))
        self.reports = []
        self.here = None
        self.root = None
        self._queue: deque[Node] = deque()
        self._disengaged = False
        self._visits: list[observe.Visit] | None = None

    @classmethod
    def validate(cls, fields: dict[str, Any]) -> dict[str, Any]:
        """Validate field values; return them converted to their declared types.

        Raises:
            InvalidEvent: with a ``{"loc", "msg"}`` entry per bad field.
        """
        try:
            model = cls.__jacws_model__.model_validate(fields)
        except pydantic.ValidationError as error:
            details = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in error.errors(include_url=False)]
            names = ", ".join(str(d["loc"][0]) for d in details if d["loc"]) or "context"
            raise InvalidEvent(f"invalid fields for walker {cls.__name__}: {names}", details) from None
        return {name: getattr(model, name) for name in cls.__jacws_fields__}

    def _set_fields(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            setattr(self, name, value)

    def report(self, value: Any) -> None:
        """Add ``value`` to the walker's reports (nodes are reported as ``{"id", "context"}``)."""
        self.reports.append(value)

    def visit(self, nodes: Node | Iterable[Node]) -> None:
        """Queue nodes for the walker to enter after the current one."""
        if isinstance(nodes, Node):
            self._queue.append(nodes)
        else:
            self._queue.extend(nodes)

    def disengage(self) -> None:
        """Stop the walker: no further abilities run."""
        self._disengaged = True

    @property
    def fields(self) -> dict[str, Any]:
        """The walker's field values."""
        return {name: getattr(self, name) for name in type(self).__jacws_fields__}

    async def _jacws_walk(self, session: GraphSession, executor: Executor, node_id: str | None) -> None:
        """Walk the caller's graph from its root (or ``node_id``), filling :attr:`reports`; no change is saved."""
        await _walk(self, session, executor, node_id)

    async def _jacws_commit(self, session: GraphSession, executor: Executor) -> None:
        """Save the walk's graph changes, all or nothing (called only for a walk that finished in time)."""
        await _commit(self, session, executor)


def _collect_abilities(cls: type[Walker]) -> list[Ability]:
    found: dict[str, Ability] = {}
    for klass in reversed(cls.__mro__):
        for attr, fn in vars(klass).items():
            mark = getattr(fn, _ABILITY_MARK, None)
            if mark is None:
                if callable(fn):
                    found.pop(attr, None)  # overridden by a plain method
                continue
            when, types = mark
            positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
            params = [p for p in inspect.signature(fn).parameters.values() if p.kind in positional]
            found[attr] = Ability(attr, when, types, inspect.iscoroutinefunction(fn), len(params) >= 2)
    return list(found.values())


class WalkerRegistry:
    """Walker classes by name; the latest definition of a name wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._walkers: dict[str, type[Walker]] = {}

    def register(self, cls: type[Walker]) -> None:
        """Add or replace ``cls`` under its class name."""
        with self._lock:
            self._walkers[cls.__name__] = cls

    def unregister(self, name: str) -> None:
        """Remove a walker by name (no error if absent)."""
        with self._lock:
            self._walkers.pop(name, None)

    def get(self, name: str) -> type[Walker] | None:
        """The walker class of that name, or None."""
        return self._walkers.get(name)

    def served(self) -> list[type[Walker]]:
        """Every non-private walker, sorted by name."""
        with self._lock:
            walkers = list(self._walkers.values())
        return sorted((w for w in walkers if not w.__jacws_specs__.private), key=lambda w: w.__name__)

    def __contains__(self, name: object) -> bool:
        return name in self._walkers

    def __iter__(self) -> Iterator[type[Walker]]:
        with self._lock:
            return iter(list(self._walkers.values()))

    def __len__(self) -> int:
        return len(self._walkers)


registry = WalkerRegistry()
"""The process-wide registry every walker class joins when it is defined."""


def _type_label(annotation: Any) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def describe_walker(cls: type[Walker]) -> dict[str, Any]:
    """A walker's catalogue entry: name, methods, auth and typed fields with JSON schemas."""
    specs = cls.__jacws_specs__
    schema = cls.__jacws_model__.model_json_schema()
    properties = schema.get("properties", {})
    fields = []
    for name, (annotation, default) in cls.__jacws_fields__.items():
        entry: dict[str, Any] = {
            "name": name,
            "type": cls.__jacws_files__.get(name) or _type_label(annotation),
            "required": default is ...,
            "schema": properties.get(name, {}),
        }
        if default is not ...:
            try:
                entry["default"] = orjson.loads(encode(default))
            except TypeError:
                entry["default"] = repr(default)
        fields.append(entry)
    return {
        "name": cls.__name__,
        "methods": list(specs.methods),
        "auth": specs.auth,
        "websocket": specs.websocket,
        "path": specs.path,
        "tags": list(specs.tags),
        "summary": specs.summary,
        "description": specs.description or (inspect.getdoc(cls) if cls.__doc__ else None),
        "fields": fields,
    }


async def run_walker(
    cls: type[Walker],
    fields: dict[str, Any],
    session: GraphSession,
    notifier: Notifier,
    executor: Executor,
    node_id: str | None = None,
    timeout: float | None = None,
) -> orjson.Fragment:
    """Validate ``fields``, run the walker from the root (or ``node_id``) and commit the graph.

    Plain abilities run in ``executor``; ``async`` ones on the running loop. Returns the
    reports serialised once, as a JSON fragment to embed in the response. A walker still
    running after ``timeout`` seconds is stopped (an ability already running in a worker
    thread finishes there, unobserved) and keeps no graph change. Only a walk that finished
    in time is saved, after the time limit and in one transaction.

    Raises:
        InvalidEvent: bad fields.
        Forbidden: ``node_id`` is not in the caller's graph.
        WalkerFailed: an ability raised, the time limit passed, or a report cannot be serialised.
    """
    token = current_notifier.set(notifier)
    try:
        walker = cls(**fields)
        if timeout is None:
            await walker._jacws_walk(session, executor, node_id)
        else:
            await _within(timeout, walker._jacws_walk(session, executor, node_id))
        await walker._jacws_commit(session, executor)
        return orjson.Fragment(encode(walker.reports))
    except WalkerTimedOut:
        raise WalkerFailed(f"walker {cls.__name__} failed: it timed out after {timeout:g} s") from None
    except ClientError:
        raise
    except JacWSError as error:
        raise WalkerFailed(f"walker {cls.__name__} failed: {type(error).__name__}: {error}") from None
    except Exception as error:
        log.exception("walker %s raised", cls.__name__)
        raise WalkerFailed(f"walker {cls.__name__} failed: {type(error).__name__}") from None
    finally:
        current_notifier.reset(token)
        size = session.size
        session.release()
        reclaim_after(session, size)  # a big run's memory goes back once its session does


async def _within(seconds: float, body: Coroutine[Any, Any, None]) -> None:
    if sys.version_info >= (3, 11):
        if not await within(seconds, body):
            raise WalkerTimedOut
    else:  # pragma: no cover - Python 3.10 (no Task.uncancel)
        try:
            await asyncio.wait_for(body, seconds)
        except asyncio.TimeoutError:
            raise WalkerTimedOut from None


async def _walk(walker: Walker, session: GraphSession, executor: Executor, node_id: str | None) -> None:
    loop = asyncio.get_running_loop()
    walker.root = session.root()
    # Store reads and writes happen in a thread: a database round trip never holds up the loop.
    start = await loop.run_in_executor(executor, session.get_node, node_id) if node_id else walker.root
    walker._queue.append(start)
    walker._visits = [] if observe.watching(session.root_id) else None
    await _traverse(walker, loop, executor, walker._visits)


async def _commit(walker: Walker, session: GraphSession, executor: Executor) -> None:
    changes = session.take_changes()
    if changes is not None:  # one transaction: every change of the walk, or none
        await asyncio.get_running_loop().run_in_executor(executor, session.store.save_graph, *changes)
        observe.graph_changed(session.root_id)
    if walker._visits is not None:
        observe.walker_ran(type(walker).__name__, session.root_id, walker._visits)


async def _traverse(
    walker: Walker,
    loop: asyncio.AbstractEventLoop,
    executor: Executor,
    visits: list[observe.Visit] | None = None,
) -> None:
    abilities = type(walker).__jacws_abilities__
    while walker._queue and not walker._disengaged:
        here = walker._queue.popleft()
        walker.here = here
        reported = len(walker.reports)
        try:
            for when in ("entry", "exit"):
                for ability in abilities:
                    if ability.when != when or not ability.matches(here):
                        continue
                    fn = getattr(walker, ability.name)
                    args = (here,) if ability.takes_here else ()
                    if ability.is_async:
                        await fn(*args)
                    else:
                        context = contextvars.copy_context()
                        await loop.run_in_executor(executor, context.run, fn, *args)
                    if walker._disengaged:
                        return
        finally:
            if visits is not None:  # the graph is watched: where the walker went, and what it said there
                visits.append(observe.Visit(here.id, tuple(walker.reports[reported:])))

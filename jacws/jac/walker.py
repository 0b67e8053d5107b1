"""A Jac walker class as a jacws :class:`~jacws.Walker`: fields and specs from the Jac class, walked by jaclang."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
from collections.abc import Iterable
from concurrent.futures import Executor
from types import ModuleType
from typing import Any, ClassVar

import pydantic

from ..errors import InvalidTarget
from ..graph_session import GraphSession
from ..notify import Notifier, current_notifier
from ..walkers import Walker
from .engine import jac_thread
from .graph import CommitGate, graph_for
from .ids import RootRef, jacws_root_id, to_json


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
        context.run(current_notifier.set, _JacNotifier(current_notifier.get()))
        walked: asyncio.Future[None] = loop.create_future()
        gate = self._gate = CommitGate(loop, walked)
        run = functools.partial(_run_on_graph, type(self).__jacws_jac__, self.fields, session, node_id, gate)
        running = self._running = asyncio.ensure_future(loop.run_in_executor(jac_thread(), context.run, run))
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


def adapt(jac_class: type, module: ModuleType) -> type[Walker]:
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

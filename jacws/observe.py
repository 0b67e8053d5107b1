"""Who watches a user's graph: its changes and the walks over it, told to watchers; free when no one watches.

The playground's graph view watches a root id. While it does, a walker run on that
user's graph records the nodes it visits, in order, with what it reported at each, and
a saved change to the graph is announced. A run on a graph nobody watches records
nothing: one dictionary look-up per run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["Run", "Visit", "graph_changed", "walker_ran", "watch", "watching"]


class Visit(NamedTuple):
    """One node a walker visited, and what it reported while there."""

    node_id: str
    reports: tuple[Any, ...]


class Run(NamedTuple):
    """One finished walker run on a watched graph."""

    walker: str
    root_id: str
    visits: tuple[Visit, ...]
    at: float


Watcher = Callable[[str, "Run | None"], None]
"""Called with the root id and the run (None when the graph changed another way)."""

_watchers: dict[str, list[Watcher]] = {}
_lock = threading.Lock()


def watching(root_id: str) -> bool:
    """Whether anyone watches this user's graph."""
    return root_id in _watchers


def watch(root_id: str, watcher: Watcher) -> Callable[[], None]:
    """Tell ``watcher`` of every change to this graph and every walk over it; returns the way to stop."""
    with _lock:
        _watchers.setdefault(root_id, []).append(watcher)

    def stop() -> None:
        with _lock:
            found = _watchers.get(root_id, [])
            if watcher in found:
                found.remove(watcher)
            if not found:
                _watchers.pop(root_id, None)

    return stop


def _tell(root_id: str, run: Run | None) -> None:
    with _lock:
        watchers = list(_watchers.get(root_id, ()))
    for watcher in watchers:
        watcher(root_id, run)


def graph_changed(root_id: str) -> None:
    """Announce a saved change to this graph (no-op when nobody watches)."""
    if root_id in _watchers:
        _tell(root_id, None)


def walker_ran(walker: str, root_id: str, visits: list[Visit]) -> None:
    """Announce a finished walk over this graph, its visits in order (no-op when nobody watches)."""
    if root_id in _watchers:
        _tell(root_id, Run(walker, root_id, tuple(visits), time.time()))

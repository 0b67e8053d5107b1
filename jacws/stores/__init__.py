"""Stores: users, token revocations and graphs behind one interface (:mod:`.base`), kept in SQLite
(:mod:`.sqlite`, in memory or a file) or PostgreSQL (:mod:`.postgres`, the ``postgres`` extra).

:func:`store_location` is the one parser of store locations; :func:`open_store` opens the store a
location names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .base import Store, User, context_from_json, context_to_json
from .sqlite import SQLiteStore

__all__ = [
    "SQLiteStore",
    "Store",
    "StoreLocation",
    "User",
    "context_from_json",
    "context_to_json",
    "open_store",
    "store_location",
]


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """Where a store lives: ``kind`` and, for a file, its ``path``; for a database server, its ``url``."""

    kind: Literal["memory", "file", "server"]
    path: str = ""
    url: str = ""

    @property
    def shared(self) -> bool:
        """Whether other processes can open the same store (a file or a database server)."""
        return self.kind != "memory"


def store_location(location: str | Path | None) -> StoreLocation:
    """Parse a store location: None, ``""``, ``":memory:"`` or ``sqlite://`` (in memory), a file path or
    ``sqlite:///path`` (a file), ``postgresql://...`` (a database server).

    Raises:
        ValueError: a URL scheme no backend handles.
    """
    text = "" if location is None else str(location)
    if text in ("", ":memory:", "sqlite://", "sqlite:///:memory:"):
        return StoreLocation("memory")
    if text.startswith("sqlite:///"):
        return StoreLocation("file", path=text[len("sqlite:///") :])
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme in ("postgresql", "postgres"):
            return StoreLocation("server", url=text)
        raise ValueError(f"no store backend for {scheme}:// URLs (use a file path, sqlite:///path or postgresql://)")
    return StoreLocation("file", path=text)


def open_store(location: str | Path | None = None, max_connections: int = 10) -> Store:
    """Open the store at ``location`` (see :func:`store_location`); ``max_connections`` in a PostgreSQL pool.

    Raises:
        ValueError: a URL scheme no backend handles.
        ImportError: PostgreSQL is asked for but psycopg is missing.
    """
    where = store_location(location)
    if where.kind == "memory":
        return SQLiteStore(":memory:")
    if where.kind == "file":
        return SQLiteStore(where.path)
    try:
        from .postgres import PostgresStore
    except ImportError as error:  # pragma: no cover - the extra is installed in tests
        raise ImportError('the PostgreSQL store needs psycopg: pip install "jacws[postgres]"') from error
    return PostgresStore(where.url, max_connections)

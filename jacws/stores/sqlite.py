"""The embedded store on stdlib ``sqlite3``: in memory, or a file (owner-only) that survives restarts."""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path

from ..errors import UserExists
from ..graph_session import EdgeRecord, NodeRecord
from ..protocol import PUBLIC_ROOT_ID, new_node_id
from .base import Store, User, context_from_json, context_to_json

__all__ = ["SQLiteStore"]

log = logging.getLogger("jacws")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    root_id TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at REAL NOT NULL,
    revoked_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS revoked_by_time ON revoked_tokens (revoked_at);
CREATE TABLE IF NOT EXISTS nodes (
    id TEXT PRIMARY KEY,
    root_id TEXT NOT NULL,
    type TEXT NOT NULL,
    context BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS edges (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    root_id TEXT NOT NULL,
    type TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    context BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS edges_by_source ON edges (root_id, source);
"""


class SQLiteStore(Store):
    """The embedded store on stdlib ``sqlite3``: in memory, or a file that survives restarts.

    One connection guarded by a lock, so walkers in worker threads may share it.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        if self.path != ":memory:":
            _owner_only(Path(self.path))
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self.path != ":memory:":
            self._db.execute("PRAGMA busy_timeout=10000")  # several processes may share the file
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._ensure_root(PUBLIC_ROOT_ID)

    def _ensure_root(self, root_id: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO nodes (id, root_id, type, context) VALUES (?, ?, 'Root', ?)",
                (root_id, root_id, b"{}"),
            )

    def create_user(self, email: str, password_hash: str) -> User:
        user = User(secrets.token_hex(12), email.lower(), password_hash, new_node_id())
        with self._lock:
            try:
                self._db.execute("BEGIN")
                self._db.execute(
                    "INSERT INTO users (id, email, password_hash, root_id) VALUES (?, ?, ?, ?)",
                    (user.id, user.email, user.password_hash, user.root_id),
                )
                self._db.execute(
                    "INSERT INTO nodes (id, root_id, type, context) VALUES (?, ?, 'Root', ?)",
                    (user.root_id, user.root_id, b"{}"),
                )
                self._db.execute("COMMIT")
            except sqlite3.IntegrityError:
                self._db.execute("ROLLBACK")
                raise UserExists(f"{email} is already registered") from None
        return user

    def get_user_by_email(self, email: str) -> User | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, email, password_hash, root_id FROM users WHERE email = ?", (email.lower(),)
            ).fetchone()
        return User(*row) if row else None

    def user_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM users").fetchone()[0])

    def revoke_token(self, jti: str, expires_at: float) -> None:
        now = time.time()
        with self._lock:
            self._db.execute("DELETE FROM revoked_tokens WHERE expires_at < ?", (now,))
            self._db.execute(
                "INSERT OR REPLACE INTO revoked_tokens (jti, expires_at, revoked_at) VALUES (?, ?, ?)",
                (jti, expires_at, now),
            )

    def revocations_since(self, since: float) -> list[tuple[str, float, float]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT jti, revoked_at, expires_at FROM revoked_tokens WHERE revoked_at > ? AND expires_at >= ?",
                (since, time.time()),
            ).fetchall()
        return [(str(jti), float(at), float(expires)) for jti, at, expires in rows]

    def is_revoked(self, jti: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM revoked_tokens WHERE jti = ?", (jti,)).fetchone() is not None

    def load_node(self, node_id: str) -> NodeRecord | None:
        with self._lock:
            row = self._db.execute("SELECT id, root_id, type, context FROM nodes WHERE id = ?", (node_id,)).fetchone()
        return NodeRecord(row[0], row[1], row[2], context_from_json(row[3])) if row else None

    def load_out_edges(self, root_id: str, node_id: str) -> list[EdgeRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, root_id, type, source, target, context FROM edges "
                "WHERE root_id = ? AND source = ? ORDER BY seq",
                (root_id, node_id),
            ).fetchall()
        return [EdgeRecord(r[0], r[1], r[2], r[3], r[4], context_from_json(r[5])) for r in rows]

    def load_graph(self, root_id: str) -> tuple[list[NodeRecord], list[EdgeRecord]]:
        with self._lock:
            nodes = self._db.execute(
                "SELECT id, root_id, type, context FROM nodes WHERE root_id = ? ORDER BY rowid", (root_id,)
            ).fetchall()
            edges = self._db.execute(
                "SELECT id, root_id, type, source, target, context FROM edges WHERE root_id = ? ORDER BY seq",
                (root_id,),
            ).fetchall()
        return (
            [NodeRecord(r[0], r[1], r[2], context_from_json(r[3])) for r in nodes],
            [EdgeRecord(r[0], r[1], r[2], r[3], r[4], context_from_json(r[5])) for r in edges],
        )

    def save_graph(
        self,
        nodes: list[NodeRecord],
        edges: list[EdgeRecord],
        deleted_nodes: list[str],
        deleted_edges: list[str],
    ) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT INTO nodes (id, root_id, type, context) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET type = excluded.type, context = excluded.context "
                    "WHERE nodes.root_id = excluded.root_id",  # never another user's node
                    [(n.id, n.root_id, n.type, context_to_json(n.context)) for n in nodes],
                )
                self._db.executemany(
                    "INSERT INTO edges (id, root_id, type, source, target, context) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET context = excluded.context WHERE edges.root_id = excluded.root_id",
                    [(e.id, e.root_id, e.type, e.source, e.target, context_to_json(e.context)) for e in edges],
                )
                self._db.executemany("DELETE FROM edges WHERE id = ?", [(i,) for i in deleted_edges])
                self._db.executemany(
                    "DELETE FROM edges WHERE target = ? OR source = ?", [(i, i) for i in deleted_nodes]
                )
                self._db.executemany("DELETE FROM nodes WHERE id = ?", [(i,) for i in deleted_nodes])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _owner_only(path: Path) -> None:
    """Create the database file readable by its owner only, before SQLite opens it (SQLite gives its
    ``-wal`` and ``-shm`` files the database's permissions); tighten an existing one that is not."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return  # SQLite reports what is wrong with the path
    os.close(descriptor)
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = file.stat().st_mode & 0o777
            if mode & 0o077:
                os.chmod(file, mode & 0o700)
                log.warning("%s held password hashes readable by others: made it owner-only (was %o)", file, mode)
        except FileNotFoundError:
            continue
        except OSError:
            log.warning("could not make %s owner-only", file)

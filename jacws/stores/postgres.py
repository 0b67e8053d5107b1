"""The PostgreSQL store: users, revocations and graphs shared by every jacws process.

Chosen by a ``postgresql://`` URL (``--db`` or ``JACWS_DB``); needs the ``postgres``
extra (psycopg 3 and its pool). Field values are JSONB. The interface is the same as
the embedded SQLite store's, so the rest of jacws cannot tell them apart.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from ..errors import UserExists
from ..graph_session import EdgeRecord, NodeRecord
from ..protocol import PUBLIC_ROOT_ID, new_node_id
from .base import Store, User, context_from_json, context_to_json

__all__ = ["PostgresStore"]

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS jacws_users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        root_id TEXT NOT NULL UNIQUE
    )""",
    """CREATE TABLE IF NOT EXISTS jacws_revoked_tokens (
        jti TEXT PRIMARY KEY,
        expires_at DOUBLE PRECISION NOT NULL,
        revoked_at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS jacws_revoked_by_time ON jacws_revoked_tokens (revoked_at)",
    """CREATE TABLE IF NOT EXISTS jacws_nodes (
        id TEXT PRIMARY KEY,
        root_id TEXT NOT NULL,
        type TEXT NOT NULL,
        context JSONB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS jacws_edges (
        seq BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        root_id TEXT NOT NULL,
        type TEXT NOT NULL,
        source TEXT NOT NULL,
        target TEXT NOT NULL,
        context JSONB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS jacws_edges_by_source ON jacws_edges (root_id, source)",
]

_NOW = "EXTRACT(EPOCH FROM clock_timestamp())"  # the database's clock: one clock for every process


def _json(context: dict[str, Any]) -> str:
    return context_to_json(context).decode()


class PostgresStore(Store):
    """Users, revocations and graphs in PostgreSQL, through a small connection pool.

    Args:
        url: ``postgresql://USER@HOST:PORT/DB``.
        max_connections: the pool's size (walker threads share it).
    """

    def __init__(self, url: str, max_connections: int = 10) -> None:
        self.url = url
        self._pool = ConnectionPool(url, min_size=1, max_size=max_connections, open=True, kwargs={"autocommit": True})
        with self._pool.connection() as db:
            db.execute("SELECT pg_advisory_lock(727)")  # several processes may start at once
            try:
                for statement in _SCHEMA:
                    db.execute(statement)
                db.execute(
                    "INSERT INTO jacws_nodes (id, root_id, type, context) VALUES (%s, %s, 'Root', '{}') "
                    "ON CONFLICT (id) DO NOTHING",
                    (PUBLIC_ROOT_ID, PUBLIC_ROOT_ID),
                )
            finally:
                db.execute("SELECT pg_advisory_unlock(727)")

    def create_user(self, email: str, password_hash: str) -> User:
        user = User(secrets.token_hex(12), email.lower(), password_hash, new_node_id())
        try:
            with self._pool.connection() as db, db.transaction():
                db.execute(
                    "INSERT INTO jacws_users (id, email, password_hash, root_id) VALUES (%s, %s, %s, %s)",
                    (user.id, user.email, user.password_hash, user.root_id),
                )
                db.execute(
                    "INSERT INTO jacws_nodes (id, root_id, type, context) VALUES (%s, %s, 'Root', '{}')",
                    (user.root_id, user.root_id),
                )
        except psycopg.errors.UniqueViolation:
            raise UserExists(f"{email} is already registered") from None
        return user

    def get_user_by_email(self, email: str) -> User | None:
        with self._pool.connection() as db:
            row = db.execute(
                "SELECT id, email, password_hash, root_id FROM jacws_users WHERE email = %s", (email.lower(),)
            ).fetchone()
        return User(*row) if row else None

    def user_count(self) -> int:
        with self._pool.connection() as db:
            row = db.execute("SELECT COUNT(*) FROM jacws_users").fetchone()
        return int(row[0]) if row else 0

    def revoke_token(self, jti: str, expires_at: float) -> None:
        with self._pool.connection() as db:
            db.execute(f"DELETE FROM jacws_revoked_tokens WHERE expires_at < {_NOW}")
            db.execute(
                f"INSERT INTO jacws_revoked_tokens (jti, expires_at, revoked_at) VALUES (%s, %s, {_NOW}) "
                "ON CONFLICT (jti) DO NOTHING",
                (jti, expires_at),
            )

    def is_revoked(self, jti: str) -> bool:
        with self._pool.connection() as db:
            return db.execute("SELECT 1 FROM jacws_revoked_tokens WHERE jti = %s", (jti,)).fetchone() is not None

    def revocations_since(self, since: float) -> list[tuple[str, float, float]]:
        with self._pool.connection() as db:
            rows = db.execute(
                "SELECT jti, revoked_at, expires_at FROM jacws_revoked_tokens "
                "WHERE revoked_at > %s AND expires_at >= %s",
                (since, time.time()),
            ).fetchall()
        return [(str(jti), float(at), float(expires)) for jti, at, expires in rows]

    def load_node(self, node_id: str) -> NodeRecord | None:
        with self._pool.connection() as db:
            row = db.execute(
                "SELECT id, root_id, type, context::text FROM jacws_nodes WHERE id = %s", (node_id,)
            ).fetchone()
        return NodeRecord(row[0], row[1], row[2], context_from_json(row[3])) if row else None

    def load_out_edges(self, root_id: str, node_id: str) -> list[EdgeRecord]:
        with self._pool.connection() as db:
            rows = db.execute(
                "SELECT id, root_id, type, source, target, context::text FROM jacws_edges "
                "WHERE root_id = %s AND source = %s ORDER BY seq",
                (root_id, node_id),
            ).fetchall()
        return [EdgeRecord(r[0], r[1], r[2], r[3], r[4], context_from_json(r[5])) for r in rows]

    def load_graph(self, root_id: str) -> tuple[list[NodeRecord], list[EdgeRecord]]:
        with self._pool.connection() as db:
            nodes = db.execute(
                "SELECT id, root_id, type, context::text FROM jacws_nodes WHERE root_id = %s ORDER BY id", (root_id,)
            ).fetchall()
            edges = db.execute(
                "SELECT id, root_id, type, source, target, context::text FROM jacws_edges "
                "WHERE root_id = %s ORDER BY seq",
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
        with self._pool.connection() as db, db.transaction(), db.cursor() as cursor:
            if nodes:
                cursor.executemany(
                    "INSERT INTO jacws_nodes (id, root_id, type, context) VALUES (%s, %s, %s, %s::jsonb) "
                    "ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, context = EXCLUDED.context "
                    "WHERE jacws_nodes.root_id = EXCLUDED.root_id",  # never another user's node
                    [(n.id, n.root_id, n.type, _json(n.context)) for n in nodes],
                )
            if edges:
                cursor.executemany(
                    "INSERT INTO jacws_edges (id, root_id, type, source, target, context) "
                    "VALUES (%s, %s, %s, %s, %s, %s::jsonb) "
                    "ON CONFLICT (id) DO UPDATE SET context = EXCLUDED.context "
                    "WHERE jacws_edges.root_id = EXCLUDED.root_id",
                    [(e.id, e.root_id, e.type, e.source, e.target, _json(e.context)) for e in edges],
                )
            if deleted_edges:
                cursor.execute("DELETE FROM jacws_edges WHERE id = ANY(%s)", (deleted_edges,))
            if deleted_nodes:
                cursor.execute(
                    "DELETE FROM jacws_edges WHERE target = ANY(%s) OR source = ANY(%s)", (deleted_nodes, deleted_nodes)
                )
                cursor.execute("DELETE FROM jacws_nodes WHERE id = ANY(%s)", (deleted_nodes,))

    def close(self) -> None:
        self._pool.close()

"""The store interface, run against both backends: embedded SQLite and a real PostgreSQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from services import PostgresServer

from jacws.errors import UserExists
from jacws.graph_session import EdgeRecord, GraphSession, NodeRecord
from jacws.protocol import PUBLIC_ROOT_ID
from jacws.stores import SQLiteStore, Store, open_store
from jacws.stores.postgres import PostgresStore


def fresh_database(postgres: PostgresServer) -> str:
    """A new, empty database in the test cluster; its URL."""
    name = "t_" + secrets.token_hex(6)
    with psycopg.connect(postgres.url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return postgres.url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "sqlite":
        backend: Store = SQLiteStore()
    else:
        backend = open_store(fresh_database(request.getfixturevalue("postgres_server")))
        assert isinstance(backend, PostgresStore)
    yield backend
    backend.close()


def test_users_are_unique_by_email_regardless_of_case(store: Store) -> None:
    user = store.create_user("Ann@Example.com", "hash")
    assert user.email == "ann@example.com" and user.root_id.startswith("n::") and len(user.id) == 24
    assert store.get_user_by_email("ANN@example.com") == user
    with pytest.raises(UserExists):
        store.create_user("ann@example.com", "other")
    assert store.get_user_by_email("nobody@example.com") is None
    assert store.user_count() == 1
    assert store.load_node(user.root_id) == NodeRecord(user.root_id, user.root_id, "Root", {})
    assert store.load_node(PUBLIC_ROOT_ID) is not None


def test_revocations_are_listed_since_a_time(store: Store) -> None:
    assert not store.is_revoked("j")
    assert store.revocations_since(0) == []
    store.revoke_token("j", 2e9)
    store.revoke_token("expired", 1.0)
    assert store.is_revoked("j")
    ((jti, at, expires_at),) = store.revocations_since(0)
    assert jti == "j" and at > 0 and expires_at == 2e9
    assert store.revocations_since(at) == []


def test_graph_records_round_trip_and_deletes_cascade_to_edges(store: Store) -> None:
    root = "n::" + "11" * 12
    a = NodeRecord("n::" + "aa" * 12, root, "Note", {"t": 1, "nested": {"x": [1, 2]}})
    b = NodeRecord("n::" + "bb" * 12, root, "Note", {"t": 2})
    e1 = EdgeRecord("e::1", root, "Edge", root, a.id, {})
    e2 = EdgeRecord("e::2", root, "Edge", root, b.id, {"w": 3})
    store.save_graph([a, b], [e1, e2], [], [])
    assert store.load_node(a.id) == a
    assert store.load_out_edges(root, root) == [e1, e2]
    assert store.load_out_edges("n::" + "99" * 12, root) == []
    store.save_graph([NodeRecord(a.id, root, "Note", {"t": 5})], [], [b.id], [])
    node = store.load_node(a.id)
    assert node is not None and node.context == {"t": 5}
    assert store.load_node(b.id) is None and store.load_out_edges(root, root) == [e1]
    store.save_graph([], [], [], ["e::1"])
    assert store.load_out_edges(root, root) == []


def test_a_walkers_graph_session_works_on_every_backend(store: Store) -> None:
    from test_graph import City, Road

    root_id = store.create_user("graph@example.com", "h").root_id
    session = GraphSession(store, root_id)
    oslo = session.root().connect(City(name="Oslo"))
    oslo.connect(City(name="Bergen"), Road(km=463))
    session.commit()
    again = GraphSession(store, root_id)
    (city,) = again.root().nodes(City)
    assert city.name == "Oslo" and city.nodes(City)[0].name == "Bergen"


def test_a_file_store_keeps_everything_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "jacws.db"
    first = open_store(path)
    user = first.create_user("keep@example.com", "h")
    first.revoke_token("gone", 2e9)
    first.close()
    second = open_store(f"sqlite:///{path}")
    assert second.get_user_by_email("keep@example.com") == user and second.is_revoked("gone")
    second.close()


def test_a_file_store_and_its_wal_and_shm_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    os.umask(umask := os.umask(0o022))  # as on most machines: new files world-readable unless said otherwise
    try:
        path = tmp_path / "users.db"
        store = open_store(str(path))
        store.create_user("hashed@example.com", "$argon2id$not-for-others")
        files = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
        store.close()
    finally:
        os.umask(umask)
    assert {"users.db", "users.db-wal", "users.db-shm"} <= set(files)
    assert set(files.values()) == {0o600}, files


def test_an_existing_world_readable_store_is_made_owner_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "old.db"
    open_store(str(path)).close()
    for file in tmp_path.iterdir():
        file.chmod(0o644)
    open_store(str(path)).close()
    assert {p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {0o600}
    assert "made it owner-only (was 644)" in caplog.text


def test_two_postgres_stores_share_users_and_revocations(postgres_server: PostgresServer) -> None:
    url = fresh_database(postgres_server)
    one, two = open_store(url), open_store(url)
    try:
        user = one.create_user("shared@example.com", "h")
        assert two.get_user_by_email("shared@example.com") == user
        one.revoke_token("t", 2e9)
        assert two.is_revoked("t") and [j for j, _, _ in two.revocations_since(0)] == ["t"]
    finally:
        one.close()
        two.close()


def test_open_store_picks_the_backend_from_the_location() -> None:
    memory = open_store(None)
    assert isinstance(memory, SQLiteStore) and memory.path == ":memory:"
    with pytest.raises(ValueError, match="mongodb"):
        open_store("mongodb://localhost")


def test_saving_a_node_never_overwrites_another_users_node(store: Store) -> None:
    mine, theirs = "n::" + "11" * 12, "n::" + "22" * 12
    node = NodeRecord("n::" + "ab" * 12, theirs, "Note", {"t": "theirs"})
    store.save_graph([node], [], [], [])
    store.save_graph([NodeRecord(node.id, mine, "Note", {"t": "hijacked"})], [], [], [])
    assert store.load_node(node.id) == node

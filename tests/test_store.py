"""The embedded SQLite store: users, revocations, graphs, and a file that survives reopening."""

from __future__ import annotations

from pathlib import Path

import pytest

from jacws.errors import UserExists
from jacws.graph import EdgeRecord, NodeRecord
from jacws.protocol import PUBLIC_ROOT_ID
from jacws.store import SQLiteStore, open_store


def test_users_are_unique_by_email_regardless_of_case() -> None:
    store = SQLiteStore()
    user = store.create_user("Ann@Example.com", "hash")
    assert user.email == "ann@example.com" and user.root_id.startswith("n::") and len(user.id) == 24
    assert store.get_user_by_email("ANN@example.com") == user
    with pytest.raises(UserExists):
        store.create_user("ann@example.com", "other")
    assert store.get_user_by_email("nobody@example.com") is None
    assert store.user_count() == 1
    assert store.load_node(user.root_id) == NodeRecord(user.root_id, user.root_id, "Root", {})
    assert store.load_node(PUBLIC_ROOT_ID) is not None


def test_revocations() -> None:
    store = SQLiteStore()
    assert not store.is_revoked("j")
    store.revoke_token("j", 2e9)
    assert store.is_revoked("j")


def test_graph_records_round_trip_and_deletes_cascade_to_edges() -> None:
    store = SQLiteStore()
    root = "n::" + "11" * 12
    a, b = NodeRecord("n::" + "aa" * 12, root, "Note", {"t": 1}), NodeRecord("n::" + "bb" * 12, root, "Note", {"t": 2})
    e1 = EdgeRecord("e::1", root, "Edge", root, a.id, {})
    e2 = EdgeRecord("e::2", root, "Edge", root, b.id, {"w": 3})
    store.save_graph([a, b], [e1, e2], [], [])
    assert store.load_node(a.id) == a
    assert store.load_out_edges(root, root) == [e1, e2]
    assert store.load_out_edges("n::" + "99" * 12, root) == []
    store.save_graph([NodeRecord(a.id, root, "Note", {"t": 5})], [], [b.id], [])
    assert store.load_node(a.id).context == {"t": 5}  # type: ignore[union-attr]
    assert store.load_node(b.id) is None and store.load_out_edges(root, root) == [e1]


def test_a_file_store_keeps_everything_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "jacws.db"
    first = open_store(path)
    user = first.create_user("keep@example.com", "h")
    first.revoke_token("gone", 2e9)
    first.close()
    second = open_store(f"sqlite:///{path}")
    assert second.get_user_by_email("keep@example.com") == user and second.is_revoked("gone")
    second.close()


def test_open_store_picks_the_backend_from_the_location() -> None:
    assert isinstance(open_store(None), SQLiteStore) and open_store(":memory:").path == ":memory:"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="mongodb"):
        open_store("mongodb://localhost")

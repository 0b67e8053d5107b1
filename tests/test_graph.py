"""Nodes, edges and a user's graph session over the SQLite store."""

from __future__ import annotations

import pytest

from jacws.errors import Forbidden
from jacws.graph import Edge, Node, Root
from jacws.graph_session import GraphSession
from jacws.stores import SQLiteStore


class City(Node):
    name: str
    population: int = 0


class Road(Edge):
    km: float


def new_user(store: SQLiteStore, email: str = "g@example.com") -> str:
    return store.create_user(email, "h").root_id


def test_nodes_validate_their_fields_and_serialise_as_id_and_context() -> None:
    city = City(name="Oslo", population="700")  # type: ignore[arg-type]
    assert city.population == 700 and city.id.startswith("n::")
    assert city.__jacws_json__() == {"id": city.id, "context": {"name": "Oslo", "population": 700}}
    with pytest.raises(Exception, match="name"):
        City(population=1)


def test_a_graph_persists_across_sessions_with_typed_edges() -> None:
    store = SQLiteStore()
    root_id = new_user(store)
    session = GraphSession(store, root_id)
    root = session.root()
    oslo = root.connect(City(name="Oslo"))
    bergen = oslo.connect(City(name="Bergen"), Road(km=463))
    root.connect(bergen)
    session.commit()

    again = GraphSession(store, root_id)
    cities = again.root().nodes(City)
    assert [c.name for c in cities] == ["Oslo", "Bergen"]
    (road,) = cities[0].edges(Road)
    assert isinstance(road, Road) and road.km == 463 and road.target_id == cities[1].id
    assert cities[0].nodes(edge_type=Road)[0].name == "Bergen"
    assert again.get_node(bergen.id) is cities[1]  # one object per id in a session


def test_only_changed_nodes_are_written_back() -> None:
    store = SQLiteStore()
    root_id = new_user(store)
    session = GraphSession(store, root_id)
    city = session.root().connect(City(name="Rome"))
    session.commit()
    writes: list[int] = []
    original = store.save_graph
    store.save_graph = lambda n, e, dn, de: (writes.append(len(n)), original(n, e, dn, de))  # type: ignore[method-assign]
    session.commit()
    assert writes == []
    city.population = 3
    session.commit()
    assert writes == [1]
    assert GraphSession(store, root_id).get_node(city.id).context["population"] == 3  # type: ignore[index]


def test_another_users_node_and_unknown_ids_are_forbidden() -> None:
    store = SQLiteStore()
    mine, theirs = new_user(store, "a@example.com"), new_user(store, "b@example.com")
    their_session = GraphSession(store, theirs)
    secret = their_session.root().connect(City(name="Secret"))
    their_session.commit()
    with pytest.raises(Forbidden):
        GraphSession(store, mine).get_node(secret.id)
    with pytest.raises(Forbidden):
        GraphSession(store, mine).get_node("n::" + "00" * 12)


def test_disconnect_and_destroy() -> None:
    store = SQLiteStore()
    root_id = new_user(store)
    session = GraphSession(store, root_id)
    root = session.root()
    a, b = root.connect(City(name="A")), root.connect(City(name="B"))
    session.commit()
    assert root.disconnect(a) == 1
    b.destroy()
    session.commit()
    fresh = GraphSession(store, root_id)
    assert fresh.root().nodes() == []
    with pytest.raises(Forbidden):
        fresh.get_node(b.id)


def test_nodes_of_types_not_defined_in_this_process_keep_their_data() -> None:
    store = SQLiteStore()
    root_id = new_user(store)
    session = GraphSession(store, root_id)
    node = session.root().connect(City(name="Kept"))
    session.commit()
    with store._lock:
        store._db.execute("UPDATE nodes SET type = 'Vanished' WHERE id = ?", (node.id,))
    fresh = GraphSession(store, root_id)
    (ghost,) = fresh.root().nodes()
    assert type(ghost) is Node and ghost.context == {"name": "Kept", "population": 0}
    fresh.commit()
    assert store.load_node(node.id).type == "Vanished"  # type: ignore[union-attr]


def test_detached_nodes_explain_how_to_attach_them() -> None:
    with pytest.raises(RuntimeError, match="connect it"):
        City(name="x").nodes()
    assert isinstance(GraphSession(SQLiteStore(), "n::" + "12" * 12).root(), Root)


def test_connecting_loads_none_of_the_stored_edges_and_reading_them_sees_old_then_new() -> None:
    store = SQLiteStore()
    root_id = new_user(store)
    first = GraphSession(store, root_id)
    for n in range(3):
        first.root().connect(City(name=f"old{n}"))
    first.commit()
    loads: list[str] = []
    original = store.load_out_edges
    store.load_out_edges = lambda root, node: (loads.append(node), original(root, node))[1]  # type: ignore[method-assign]
    adding = GraphSession(store, root_id)
    for n in range(2):
        adding.root().connect(City(name=f"new{n}"))
    assert loads == [] and adding.size == 1 + 2 + 2  # the root, two new nodes, their two edges
    adding.commit()
    assert len(adding.root().nodes(City)) == 5  # the committed new edges are not loaded twice
    reading = GraphSession(store, root_id)
    assert [c.name for c in reading.root().nodes(City)] == ["old0", "old1", "old2", "new0", "new1"]
    mixed = GraphSession(store, root_id)
    mixed.root().connect(City(name="newest"))
    assert [c.name for c in mixed.root().nodes(City)][-2:] == ["new1", "newest"]  # stored ones, then this run's
    gone = mixed.root().nodes(City)[0]
    gone.destroy()
    mixed.commit()
    assert len(GraphSession(store, root_id).root().nodes(City)) == 5


def test_a_released_session_lets_go_of_its_archetypes_and_refuses_further_calls() -> None:
    store = SQLiteStore()
    session = GraphSession(store, new_user(store))
    city = session.root().connect(City(name="Lima"))
    session.release()
    assert city._session is None and session.size == 0
    with pytest.raises(RuntimeError, match="this walker run is over"):
        session.root()

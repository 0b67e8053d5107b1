"""The graph view: a user's graph from the store, live, and the path of the latest walk over it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

import jacws
from jacws import observe
from jacws.server import Server
from jacws.widgets import GraphView


@pytest.fixture
def graph_server() -> Iterator[Server]:
    server = jacws.start()
    yield server
    server.stop()


def changed(view: GraphView) -> threading.Event:
    """Set when the view's graph changes (what the browser is sent)."""
    event = threading.Event()
    view.observe(lambda _change: event.set(), "graph_nodes")
    return event


def test_the_view_matches_the_store_and_shows_the_walk_in_order(graph_server: Server) -> None:
    alice = graph_server.client(user="g-alice@example.com")
    view = GraphView(alice)
    assert view.nodes == [alice.root_id] and view.edges == [] and view.path == []
    answer = alice.walker("t_chain").result()
    assert answer["reports"] == ["first", "second"]
    view.flush()
    nodes, edges = graph_server.runtime.store.load_graph(alice.root_id)  # type: ignore[union-attr]
    assert view.nodes == [n.id for n in nodes] and len(view.nodes) == 3
    assert view.edges == [(e.source, e.target) for e in edges] and len(view.edges) == 2
    first, second = view.nodes[1:]
    assert view.edges == [(alice.root_id, first), (first, second)]
    assert view.path == [alice.root_id, first, second] and view.walker == "t_chain"
    assert view.walk["reports"] == [[], ['"first"'], ['"second"']]
    labels = {node["id"]: node["label"] for node in view.graph_nodes}
    assert labels[first] == "Note\ntext: first\nlikes: 0"
    view.close()
    assert not observe.watching(alice.root_id)


def test_the_view_follows_changes_from_another_client_and_rest_within_a_second(graph_server: Server) -> None:
    phone = graph_server.client(user="g-bob@example.com")
    laptop = graph_server.client(user="g-bob@example.com")
    view = GraphView(phone)
    for change in (lambda: laptop.walker("t_chain").result(), lambda: laptop.rest("t_many", count=2)):
        event = changed(view)
        started = time.monotonic()
        change()
        assert event.wait(1.0), "the graph view did not change within a second"
        assert time.monotonic() - started < 1.0
    view.flush()
    assert len(view.nodes) == 5 and view.walker == "t_many" and view.path == [phone.root_id]
    view.close()


def test_the_view_follows_its_client_through_change_user(graph_server: Server) -> None:
    carol = graph_server.client(user="g-carol@example.com")
    carol.walker("t_chain").result()
    guest = graph_server.client()
    view = GraphView(guest)
    assert view.root == guest.root_id
    guest.change_user(carol.token)
    view.flush()
    assert view.root == carol.root_id and len(view.nodes) == 3
    view.close()


def test_a_graph_nobody_watches_records_no_walk(graph_server: Server) -> None:
    dave = graph_server.client(user="g-dave@example.com")
    seen: list[observe.Run | None] = []
    assert not observe.watching(dave.root_id)
    dave.walker("t_chain").result()
    stop = observe.watch(dave.root_id, lambda _root, run: seen.append(run))
    dave.walker("t_chain").result()
    stop()
    dave.walker("t_chain").result()
    assert [run.walker for run in seen if run is not None] == ["t_chain"]  # only the watched run


def test_a_thousand_node_graph_builds_in_under_two_seconds(graph_server: Server) -> None:
    erin = graph_server.client(user="g-erin@example.com")
    erin.walker("t_many", count=1000).result(timeout=30)
    started = time.perf_counter()
    view = GraphView(erin)
    elapsed = time.perf_counter() - started
    assert len(view.nodes) == 1001 and len(view.edges) == 1000
    assert elapsed < 2.0, f"{elapsed:.2f} s"
    view.close()


def test_a_client_of_a_server_elsewhere_is_refused_clearly() -> None:
    from jacws.client import Client

    with pytest.raises(jacws.JacWSError, match="no server of this process"):
        GraphView(Client("ws://127.0.0.1:9/websocket", connect=False))


def test_the_playground_shows_each_users_graph_and_a_card_toggles_its_own(graph_server: Server) -> None:
    from jacws.widgets import Playground

    frank = graph_server.client(user="g-frank@example.com")
    guest = graph_server.client()
    play = Playground(graph_server, [frank, guest], graph=True)
    view = play.graph(frank)
    assert view is not None and view.root == frank.root_id and play.graph(guest) is not None
    frank.walker("t_chain").result()
    play.flush()
    assert len(view.nodes) == 3 and view.path[0] == frank.root_id
    card = play.card(frank)
    assert card.can_graph
    card.act({"action": "graph"})
    assert play.graph(frank) is None and card.status["text"] == "graph hidden"
    assert not observe.watching(frank.root_id)  # a hidden graph costs the walks nothing
    card.act({"action": "graph"})
    shown = play.graph(frank)
    assert shown is not None and len(shown.nodes) == 3
    elsewhere = Playground(None, [guest])
    assert not elsewhere.card(guest).can_graph

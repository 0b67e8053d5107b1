"""The playground: the server panel, the flow view and a card per client, in one widget."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import ipywidgets as w

from .. import export
from ..client import Client
from ..traffic import Traffic
from .card import ClientCard, fetch_walkers
from .flow import FlowView
from .graph import GraphView
from .panel import ServerPanel
from .updates import WIDGETS_LOCK

__all__ = ["Playground"]


class Playground(w.VBox):  # type: ignore[misc]
    """The server panel, the message-flow view and a card per client.

    It follows its clients from the moment it is first displayed (or flushed), taking in what
    they did before: a playground nobody displays costs them nothing.

    Args:
        server: the running :class:`~jacws.server.Server` (its panel and walker catalogue), or None for
            clients of a server elsewhere (jac-cloud, another process): no panel then.
        clients: the clients to show; :meth:`add` adds more.
        graph: show each client's user graph under its card (each card's ``graph`` button toggles it too).
    """

    def __init__(self, server: Any | None, clients: Sequence[Client] = (), graph: bool = False) -> None:
        self.server = server
        self.show_graphs = graph
        self.graphs: dict[int, GraphView] = {}  # by id(card)
        self._cells: dict[int, w.VBox] = {}
        self.traffic = Traffic(clients, live=False)
        self.live = False
        self.walkers = self._catalogue(server, clients)
        self.panel = ServerPanel(server) if server is not None else None
        self.flow = FlowView(self.traffic)
        self.traffic.on_change(self._poke_panel)  # backlogs and membership move with traffic
        self.cards: list[ClientCard] = []
        self.grid = w.GridBox(
            layout={"grid_template_columns": "repeat(auto-fill, minmax(400px, 1fr))", "grid_gap": "6px"}
        )
        self.export_bar = self._export_bar()
        views = (self.panel, self.flow, self.export_bar, self.grid)
        super().__init__([view for view in views if view is not None])
        self.add_class("jacws-playground")
        for client in clients:
            self.add(client)

    @staticmethod
    def _catalogue(server: Any | None, clients: Sequence[Client]) -> list[dict[str, Any]]:
        """The walker catalogue of the server, or of the first client's (none if it has no ``/walkers``)."""
        if server is not None:
            return fetch_walkers(server.url) if server.state.value == "running" else []
        for client in clients[:1]:
            try:
                return fetch_walkers(client.base_url)
            except (OSError, ValueError, KeyError):  # no server there, or one without /walkers
                return []
        return []

    def _poke_panel(self) -> None:
        if self.panel is not None:
            self.panel.poke()

    def add(self, client: Client) -> ClientCard:
        """Add a card for another client."""
        self.traffic.watch(client)
        peers = [c for c in self.traffic.clients if c is not client]
        card = ClientCard(client, self.walkers, self.traffic, peers, live=self.live)
        cell = w.VBox([card], layout={"min_width": "0"})
        self._cells[id(card)] = cell
        if self.server is not None:  # a graph needs the server's store, in this process
            card.on_graph = lambda: self.toggle_graph(card)
        for other in self.cards:  # the newcomer is a target for the others too
            if client not in other.peers and client is not other.client:
                other.peers.append(client)
        if self.live:
            client.on_state(lambda _client: self._poke_panel())
        self.cards.append(card)
        with WIDGETS_LOCK:
            self.grid.children = [*self.grid.children, cell]
        if self.show_graphs and self.server is not None:
            self.toggle_graph(card)
        self._poke_panel()
        return card

    def start(self) -> None:
        """Follow every client from now on (what they did before included)."""
        if self.live:
            return
        self.live = True
        self.traffic.start()
        if self.panel is not None:
            self.panel.start()
        for card in self.cards:
            card.client.on_state(lambda _client: self._poke_panel())
            card.start()
        self._poke_panel()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.start()  # displayed: from now on the views follow the clients
        return super()._repr_mimebundle_(**kwargs)

    def toggle_graph(self, card: ClientCard) -> GraphView | None:
        """Show the card's user graph under it, or hide it if shown; return the view shown."""
        cell = self._cells[id(card)]
        view = self.graphs.pop(id(card), None)
        if view is not None:
            with WIDGETS_LOCK:
                cell.children = [card]
            view.close()
            return None
        view = GraphView(card.client, self.server)
        self.graphs[id(card)] = view
        with WIDGETS_LOCK:
            cell.children = [card, view]
        return view

    def export(self, path: str | Path) -> Path:
        """Write the session so far by ``path``'s suffix: ``.md`` (a Mermaid sequence diagram), ``.jsonl``
        (every frame) or ``.py`` (a pytest module replaying it); return the path.

        Raises:
            ExportError: an unknown suffix, or a ``.py`` export of clients of a server elsewhere.
        """
        self.start()
        walkers = self.server.walkers if self.server is not None else None
        return export.write(path, self.traffic.clients, self.traffic, walkers)

    def _export_bar(self) -> w.HBox:
        name = w.Text(value="session", placeholder="file name", layout={"width": "150px"})
        kind = w.Dropdown(
            options=[("Mermaid diagram (.md)", ".md"), ("frames (.jsonl)", ".jsonl"), ("pytest test (.py)", ".py")],
            value=".md",
            layout={"width": "200px"},
        )
        button = w.Button(description="export", icon="download", tooltip="write the session to this file")
        status = w.HTML()

        def clicked(_button: Any) -> None:
            stem = name.value.strip() or "session"
            path = Path(stem if stem.endswith(kind.value) else stem + kind.value)
            try:
                written = self.export(path)
            except (export.ExportError, OSError) as error:
                message = f'<span class="jacws-export-error">{escape(str(error))}</span>'
            else:
                message = f"wrote <code>{escape(str(written))}</code>"
            with WIDGETS_LOCK:
                status.value = message

        button.on_click(clicked)
        bar = w.HBox([w.Label("export the session:"), name, kind, button, status], layout={"align_items": "center"})
        bar.add_class("jacws-export")
        self.export_controls = (name, kind, button, status)
        return bar

    def graph(self, client: Client) -> GraphView | None:
        """The graph view under a client's card, if shown."""
        return self.graphs.get(id(self.card(client)))

    def card(self, client: Client) -> ClientCard:
        """The card of a client."""
        return next(c for c in self.cards if c.client is client)

    def flush(self) -> int:
        """Apply every pending update of every view now; return how many (following the clients from now on)."""
        self.start()
        panel = self.panel.flush() if self.panel is not None else 0
        graphs = sum(view.flush() for view in self.graphs.values())
        return panel + self.flow.flush() + sum(card.flush() for card in self.cards) + graphs

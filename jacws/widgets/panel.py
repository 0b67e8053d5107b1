"""The server panel: running state and URL, connections, channels, online users, walkers, and stop/start."""

from __future__ import annotations

import html
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import ipywidgets as w

from ..errors import JacWSError
from .charts import MetricsCharts
from .updates import WIDGETS_LOCK, UpdateQueue

__all__ = ["ServerPanel"]

TABLE = "border-spacing:12px 2px"
ROWS = 20
"""Connections listed by name (the rest are counted): a load of hundreds stays readable."""


class ServerPanel(w.VBox):  # type: ignore[misc]
    """The server: state, URL, connections, users and channel membership, walkers; a stop and a start button.

    The server keeps running after the notebook's last cell, so the playground stays live;
    ``stop`` closes every connection with 1001 (the cards say so) and ``start`` brings it back
    on the same port, where each card's ``reconnect`` finds it.
    """

    def __init__(self, server: Any) -> None:
        self.server = server
        self.state = w.HTML()
        self.connections = w.HTML()
        self.walker_table = w.HTML()
        self.refresh_button = w.Button(description="refresh", icon="refresh", tooltip="read the server's state now")
        self.stop_button = w.Button(description="stop server", icon="stop", tooltip="close every connection (1001)")
        self.start_button = w.Button(description="start server", icon="play", tooltip="start again on the same port")
        self.message = w.HTML()
        self.charts = MetricsCharts(server)
        self.charts.on_reading = self._reading
        self._shown_connections: int | None = None  # what the table shows: redrawn when the count moves
        self.refresh_button.on_click(lambda _: self._refresh_now())
        self.stop_button.on_click(lambda _: self._run(self.server.stop))
        self.start_button.on_click(lambda _: self._run(self.server.restart))
        self.updates = UpdateQueue(lambda _batch: self.refresh(), interval=0.2, locked=False)
        buttons = w.HBox([self.refresh_button, self.stop_button, self.start_button], layout={"flex_flow": "row wrap"})
        super().__init__(
            [
                w.HBox([self.state], layout={"flex_flow": "row wrap"}),
                buttons,
                self.message,
                self.charts,
                self.connections,
                self.walker_table,
            ],
            layout={"border": "1px solid #bbb", "padding": "6px"},
        )
        self.add_class("jacws-server-panel")
        self.refresh()

    def start(self) -> None:
        """Start the live charts (the panel is displayed)."""
        self.charts.start()

    def _reading(self, numbers: dict[str, Any]) -> None:
        if numbers["connections"] != self._shown_connections:
            self.poke()

    def poke(self) -> None:
        """Ask for a (throttled) refresh; safe from any thread."""
        self.updates.push(None)

    def _refresh_now(self) -> None:
        self.refresh()

    def _run(self, action: Any) -> None:
        try:
            action()
        except (JacWSError, OSError) as error:
            text = f"<span style='color:#cc3311'>{html.escape(str(error))}</span>"
        else:
            text = ""
        with WIDGETS_LOCK:
            self.message.value = text
        self.refresh()

    def refresh(self) -> None:
        """Read the server's state (without holding the widgets' lock: that may wait), then redraw under it."""
        server = self.server
        running = server.state.value == "running"
        snapshot = None
        if running:
            try:
                snapshot = server.snapshot(timeout=2)
            except (JacWSError, TimeoutError, FutureTimeout, RuntimeError):  # stopped meanwhile
                running = False
        with WIDGETS_LOCK:
            self._render(running, snapshot)

    def _render(self, running: bool, snapshot: dict[str, Any] | None) -> None:
        server = self.server
        url = html.escape(server.url) if running else "-"
        self.stop_button.disabled = not running
        self.start_button.disabled = running
        self.state.value = f"<b>jacws server</b> · {server.state.value} · <code style='user-select:all'>{url}</code>"
        if not running or snapshot is None:
            self.connections.value = "<i>not running: start it again, then reconnect the cards</i>"
            self.walker_table.value = ""
            return
        self._shown_connections = len(snapshot["connections"])
        rows = "".join(
            f"<tr><td><code>…{html.escape(c['client_id'][-8:])}</code></td>"
            f"<td>{html.escape(c['user'] or 'anonymous')}</td>"
            f"<td>{html.escape(c['channel_id'][:24])}</td><td>{c['backlog']}</td></tr>"
            for c in snapshot["connections"][:ROWS]
        )
        more = len(snapshot["connections"]) - ROWS
        if more > 0:
            rows += f"<tr><td colspan='4'><i>and {more} more</i></td></tr>"
        largest = sorted(snapshot["channels"].items(), key=lambda item: len(item[1]), reverse=True)
        channels = "; ".join(f"<b>{html.escape(ch[:24])}</b>: {len(members)}" for ch, members in largest[:ROWS])
        if len(largest) > ROWS:
            channels += f"; and {len(largest) - ROWS} more"
        self.connections.value = (
            f"<div>{len(snapshot['connections'])} connections · {len(snapshot['users'])} users online · "
            f"{snapshot['registered_users']} registered</div>"
            f"<table style='{TABLE}'><tr><th>client</th><th>user</th><th>channel</th><th>backlog</th></tr>"
            f"{rows}</table>"
            f"<div>channels: {channels or '-'}</div>"
        )
        walker_rows = "".join(
            f"<tr><td><b>{html.escape(x['name'])}</b></td><td>{', '.join(x['methods'])}</td>"
            f"<td>{'yes' if x['auth'] else 'no'}</td>"
            f"<td>{html.escape(', '.join(f['name'] + ': ' + f['type'] for f in x['fields']))}</td></tr>"
            for x in snapshot["walkers"]
        )
        self.walker_table.value = (
            f"<table style='{TABLE}'><tr><th>walker</th><th>methods</th><th>auth</th><th>fields</th></tr>"
            + walker_rows
            + "</table>"
            if walker_rows
            else "<i>no walkers yet: define one in a cell and it is served at once</i>"
        )

    def flush(self) -> int:
        """Apply pending refreshes now (and a reading of the charts)."""
        return self.updates.flush() + self.charts.flush()

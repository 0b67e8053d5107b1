"""Playground widgets: thin ipywidgets views over :mod:`jacws.client`, :mod:`jacws.traffic` and the server.

Clients receive on their own loop thread; views never touch a widget from there.
Each view pushes what happened onto an :class:`UpdateQueue`, which applies the updates in
batches on the kernel's event loop (coalesced, under ``hold_sync``), so a burst of
thousands of messages costs a handful of redraws. Outside a kernel, ``flush()`` applies
pending updates at once (what the tests do).

ipywidgets ships without type information; this is the one module that uses it, so
mypy is told to trust it here (``[[tool.mypy.overrides]]`` in ``pyproject.toml``).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets as w
import orjson
import traitlets

from .client import Client, ClientState, Message
from .errors import JacWSError
from .traffic import SERVER, Flow, Route, Traffic

__all__ = ["ClientCard", "FlowView", "Playground", "ServerPanel", "UpdateQueue", "fetch_walkers"]

INBOX_ROWS = 60
"""How many of the latest messages a card renders."""

FLOW_ROWS = 120
"""How many of the latest flows the flow view draws."""


def fetch_walkers(base_url: str, timeout: float = 5) -> list[dict[str, Any]]:
    """The server's walker catalogue (``GET /walkers``)."""
    with urllib.request.urlopen(f"{base_url}/walkers", timeout=timeout) as response:
        walkers: list[dict[str, Any]] = orjson.loads(response.read())["walkers"]
    return walkers


class UpdateQueue:
    """Collects updates from any thread and applies them in batches on the kernel's loop.

    Args:
        apply: called with the list of pending updates, on the loop's thread.
        interval: seconds to wait for more updates before applying a batch.
        max_batch: most updates applied in one go (the rest wait for the next tick).
    """

    def __init__(self, apply: Callable[[list[Any]], None], interval: float = 0.1, max_batch: int = 5000) -> None:
        self._apply = apply
        self.interval = interval
        self.max_batch = max_batch
        self._pending: list[Any] = []
        self._lock = threading.Lock()
        self._armed = False
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None  # no kernel loop: updates wait for flush()
        self.batches = 0

    def push(self, update: Any) -> None:
        """Queue one update; safe from any thread."""
        with self._lock:
            self._pending.append(update)
            if self._armed or self._loop is None or self._loop.is_closed():
                return
            self._armed = True
        self._loop.call_soon_threadsafe(self._arm)

    def _arm(self) -> None:
        assert self._loop is not None
        self._loop.call_later(self.interval, self.flush)

    def flush(self) -> int:
        """Apply what is pending now (on the calling thread); return how many updates."""
        with self._lock:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            again = bool(self._pending) and self._loop is not None
            self._armed = again
        if batch:
            self.batches += 1
            self._apply(batch)
        if again:
            assert self._loop is not None
            self._loop.call_soon(self._arm)
        return len(batch)


@contextlib.contextmanager
def _hold(*widgets: w.Widget) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for widget in widgets:
            stack.enter_context(widget.hold_sync())
        yield


def _copyable(label: str, value: str | None) -> str:
    text = html.escape(value or "-")
    return (
        f"<div><b>{label}</b> <code style='user-select:all;cursor:copy' title='click to select, then copy'>"
        f"{text}</code></div>"
    )


_KIND_COLORS = {
    "connection": "#6c757d",
    "response": "#198754",
    "error": "#dc3545",
    "notification": "#0d6efd",
}


def _parse_progress(data: Any) -> tuple[float, str] | None:
    if not isinstance(data, dict) or "progress" not in data:
        return None
    raw = data["progress"]
    try:
        value = float(str(raw).strip().rstrip("%"))
    except ValueError:
        return None
    return max(0.0, min(100.0, value)), str(data.get("status", ""))


def _parse_value(text: str, type_label: str) -> Any:
    if type_label == "str":
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


class ClientCard(w.VBox):  # type: ignore[misc]
    """One simulated client: state, copyable ids, live inbox with filters, forms for every event.

    Args:
        client: the client to show and drive.
        walkers: the walker catalogue (fetched from the server when omitted).
        traffic: traces where received messages came from (for the channel filter).
        peers: other clients, offered as targets in the forms.
    """

    def __init__(
        self,
        client: Client,
        walkers: list[dict[str, Any]] | None = None,
        traffic: Traffic | None = None,
        peers: Sequence[Client] = (),
    ) -> None:
        self.client = client
        self.traffic = traffic if traffic is not None else Traffic([client])
        self.peers = list(peers)
        self.walkers = walkers if walkers is not None else self._fetch_walkers()
        self.updates = UpdateQueue(self._apply)

        self.header = w.HTML()
        self.ids = w.HTML()
        self.status = w.HTML()
        self.progress = w.FloatProgress(value=0, min=0, max=100, description="progress", layout={"display": "none"})
        self.progress_label = w.Label()
        narrow = {"description_width": "40px"}
        self.type_filter = w.Dropdown(options=["all"], value="all", description="type", style=narrow)
        self.channel_filter = w.Dropdown(options=["all"], value="all", description="via", style=narrow)
        self.inbox = w.HTML(layout={"max_height": "260px", "overflow": "auto", "border": "1px solid #ddd"})
        self.count = w.Label()
        self.rtt_label = w.Label()
        self.reconnect_button = w.Button(description="reconnect", icon="refresh")
        self.close_button = w.Button(description="close", icon="times")
        self.type_filter.observe(lambda _: self._render_inbox(), "value")
        self.channel_filter.observe(lambda _: self._render_inbox(), "value")
        self.reconnect_button.on_click(lambda _: self._guard(self.client.reconnect))
        self.close_button.on_click(lambda _: self._guard(self.client.close))
        self.forms = self._build_forms()

        super().__init__(
            [
                self.header,
                self.ids,
                w.HBox([self.reconnect_button, self.close_button]),
                w.HBox([self.progress, self.progress_label]),
                self.forms,
                self.status,
                self.rtt_label,
                w.HBox([self.type_filter, self.channel_filter]),
                self.count,
                self.inbox,
            ],
            layout={
                "border": "1px solid #bbb",
                "padding": "6px",
                "margin": "2px",
                "flex": "1 1 320px",
                "min_width": "300px",
                "max_width": "520px",
            },
        )
        self.add_class("jacws-card")
        client.on_message(lambda _client, message: self.updates.push(("message", message)))
        client.on_state(lambda _client: self.updates.push(("state", None)))
        self._types_seen: set[str] = set()
        self._routes_seen: set[str] = set()
        self._render_header()
        self._apply([("message", m) for m in client.inbox])

    # -- building ----------------------------------------------------------------------

    def _fetch_walkers(self) -> list[dict[str, Any]]:
        try:
            return fetch_walkers(self.client.base_url)
        except OSError:
            return []

    def _build_forms(self) -> w.Tab:
        socket_walkers = [entry["name"] for entry in self.walkers if entry.get("websocket")]
        self.walker_name = w.Dropdown(options=socket_walkers, description="walker")
        self.walker_fields = w.VBox()
        self.walker_response = w.Checkbox(value=True, description="response")
        self.walker_send = w.Button(description="run walker", button_style="primary")
        self.walker_name.observe(lambda _: self._build_walker_fields(), "value")
        self._build_walker_fields()
        self.walker_send.on_click(lambda _: self._guard(self._send_walker))

        peer_roots = [p.root_id for p in self.peers if p.root_id]
        peer_clients = [p.client_id for p in self.peers if p.client_id]
        self.user_ids = w.Combobox(options=peer_roots, placeholder="root ids, comma separated", description="root_ids")
        self.user_data = w.Textarea(value='{"type": "chat", "data": {"message": "hi"}}', description="data")
        self.user_send = w.Button(description="send to users")
        self.user_send.on_click(lambda _: self._guard(self._send_targets, "user", self.user_ids, self.user_data))

        self.channel_ids = w.Text(value=self.client.channel_id or "", description="channel_ids")
        self.channel_data = w.Textarea(value='{"type": "chat", "data": {"message": "hi"}}', description="data")
        self.channel_send = w.Button(description="send to channels")
        self.channel_send.on_click(
            lambda _: self._guard(self._send_targets, "channel", self.channel_ids, self.channel_data)
        )

        self.client_ids = w.Combobox(options=peer_clients, placeholder="client ids", description="client_ids")
        self.client_data = w.Textarea(value='{"type": "chat", "data": {"message": "hi"}}', description="data")
        self.client_send = w.Button(description="send to clients")
        self.client_send.on_click(
            lambda _: self._guard(self._send_targets, "client", self.client_ids, self.client_data)
        )

        # The widget holds labels and indexes only: tokens stay in Python, out of saved widget state.
        self._identities: list[tuple[str, str | None, str | None]] = [("anonymous", None, None)] + [
            (p.name, p.token, p.email) for p in self.peers if p.token
        ]
        options = [(label, index) for index, (label, _, _) in enumerate(self._identities)]
        self.change_token = w.Dropdown(options=options, value=0, description="become")
        self.change_send = w.Button(description="change user")
        self.change_send.on_click(lambda _: self._guard(self._change_user))

        self.connection_send = w.Button(description="connection info")
        self.connection_send.on_click(lambda _: self._guard(self.client.send, {"type": "connection"}))

        tabs = w.Tab(
            [
                w.VBox([self.walker_name, self.walker_fields, self.walker_response, self.walker_send]),
                w.VBox([self.user_ids, self.user_data, self.user_send]),
                w.VBox([self.channel_ids, self.channel_data, self.channel_send]),
                w.VBox([self.client_ids, self.client_data, self.client_send]),
                w.VBox([self.change_token, self.change_send]),
                w.VBox([self.connection_send]),
            ]
        )
        for index, title in enumerate(["walker", "user", "channel", "client", "change_user", "connection"]):
            tabs.set_title(index, title)
        return tabs

    def _build_walker_fields(self) -> None:
        entry = next((e for e in self.walkers if e["name"] == self.walker_name.value), None)
        self.field_inputs: dict[str, tuple[w.Text, str]] = {}
        rows = []
        for spec in entry["fields"] if entry else []:
            default = spec.get("default")
            value = "" if default is None else (default if isinstance(default, str) else orjson.dumps(default).decode())
            box = w.Text(value=value, description=spec["name"], placeholder=spec["type"])
            self.field_inputs[spec["name"]] = (box, spec["type"])
            rows.append(box)
        self.walker_fields.children = rows

    # -- actions -----------------------------------------------------------------------

    def _guard(self, action: Callable[..., Any], *args: Any) -> None:
        try:
            action(*args)
        except (JacWSError, ValueError, TimeoutError, FutureTimeout) as error:
            self.status.value = f"<span style='color:#dc3545'>{html.escape(str(error))}</span>"
        else:
            self.status.value = ""

    def _send_walker(self) -> None:
        if not self.walker_name.value:
            raise ValueError("the server declares no websocket walkers")
        context = {
            name: _parse_value(box.value, type_label)
            for name, (box, type_label) in self.field_inputs.items()
            if box.value != ""
        }
        self.client.walker(self.walker_name.value, response=self.walker_response.value, **context)

    def _send_targets(self, kind: str, ids_box: w.Text, data_box: w.Textarea) -> None:
        ids = [i.strip() for i in ids_box.value.split(",") if i.strip()]
        if not ids:
            raise ValueError(f"give at least one target for the {kind} event")
        try:
            data = orjson.loads(data_box.value)
        except orjson.JSONDecodeError as error:
            raise ValueError(f"data is not JSON: {error}") from None
        getattr(self.client, kind)(ids, data)

    def _change_user(self) -> None:
        _, token, email = self._identities[self.change_token.value]
        self.client.change_user(token, email=email)
        self._render_header()

    # -- applying updates --------------------------------------------------------------

    def _apply(self, updates: list[tuple[str, Any]]) -> None:
        with _hold(self, self.header, self.ids, self.inbox, self.progress, self.rtt_label):
            new_messages = [m for kind, m in updates if kind == "message"]
            if any(kind == "state" for kind, _ in updates) or any(m.kind == "connection" for m in new_messages):
                self._render_header()
            for message in new_messages:
                if message.type:
                    self._types_seen.add(message.type)
                self._types_seen.add(f"kind:{message.kind}")
                progress = _parse_progress(message.data)
                if progress is not None:
                    self._show_progress(*progress)
            rtts = self.client.rtts
            if rtts and any(m.kind == "response" for m in new_messages):
                average = sum(rtts) / len(rtts)
                self.rtt_label.value = f"walker round trip: last {rtts[-1] * 1000:.1f} ms, mean {average * 1000:.1f} ms"
            if new_messages:
                self._render_inbox()

    def _render_header(self) -> None:
        client = self.client
        state = client.state.value
        color = {"open": "#198754", "connecting": "#fd7e14", "closed": "#dc3545"}[state]
        code = f" (code {client.close_code})" if client.state is ClientState.CLOSED and client.close_code else ""
        who = "anonymous" if client.anonymous else (client.email or "user")
        self.header.value = (
            f"<b>{html.escape(client.name)}</b> · {html.escape(who)} · <span style='color:{color}'>{state}{code}</span>"
        )
        self.ids.value = (
            _copyable("client_id", client.client_id)
            + _copyable("root_id", client.root_id)
            + _copyable("channel_id", client.channel_id)
        )

    def _show_progress(self, value: float, status: str) -> None:
        self.progress.layout.display = None
        self.progress.value = value
        self.progress.bar_style = "success" if value >= 100 or status in ("completed", "done") else "info"
        self.progress_label.value = f"{value:g}% {status}".strip()

    def _route(self, message: Message) -> Route:
        return self.traffic.route_of(self.client, message)

    def _visible(self) -> list[Message]:
        wanted_type = self.type_filter.value
        wanted_route = self.channel_filter.value
        messages = self.client.inbox
        if wanted_type != "all":
            if wanted_type.startswith("kind:"):
                messages = [m for m in messages if m.kind == wanted_type[5:]]
            else:
                messages = [m for m in messages if m.type == wanted_type]
        if wanted_route != "all":
            messages = [m for m in messages if self._route(m).kind == wanted_route]
        return messages

    def _render_inbox(self) -> None:
        inbox = self.client.inbox
        for message in inbox[-INBOX_ROWS:]:
            self._routes_seen.add(self._route(message).kind)
        types = ["all", *sorted(self._types_seen)]
        if list(self.type_filter.options) != types:
            self.type_filter.options = types
        routes = ["all", *sorted(self._routes_seen)]
        if list(self.channel_filter.options) != routes:
            self.channel_filter.options = routes
        visible = self._visible()
        self.count.value = f"{len(visible)} of {len(inbox)} messages"
        rows = []
        for message in reversed(visible[-INBOX_ROWS:]):
            stamp = time.strftime("%H:%M:%S", time.localtime(message.received_at))
            millis = f"{message.received_at % 1:.3f}"[1:]
            color = _KIND_COLORS[message.kind]
            via = f" <i>{html.escape(self._route(message).text)}</i>"
            body = html.escape(orjson.dumps(message.data).decode()[:400])
            rows.append(
                f"<div style='font-family:monospace;font-size:12px'>{stamp}{millis} "
                f"<span style='color:{color}'>{message.kind}</span>{via}<br>{body}</div>"
            )
        self.inbox.value = "".join(rows)

    def flush(self) -> int:
        """Apply pending updates now."""
        return self.updates.flush()


class ServerPanel(w.VBox):  # type: ignore[misc]
    """The server: running state, URL, connections, users and channel membership, walkers."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.state = w.HTML()
        self.connections = w.HTML()
        self.walker_table = w.HTML()
        self.refresh_button = w.Button(description="refresh", icon="refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.updates = UpdateQueue(lambda _batch: self.refresh(), interval=0.3)
        super().__init__(
            [w.HBox([self.state, self.refresh_button]), self.connections, self.walker_table],
            layout={"border": "1px solid #bbb", "padding": "6px"},
        )
        self.add_class("jacws-server-panel")
        self.refresh()

    def poke(self) -> None:
        """Ask for a (throttled) refresh; safe from any thread."""
        self.updates.push(None)

    def refresh(self) -> None:
        """Read the server's state and redraw."""
        server = self.server
        running = server.state.value == "running"
        url = html.escape(server.url) if running else "-"
        self.state.value = f"<b>jacws server</b> · {server.state.value} · <code style='user-select:all'>{url}</code>"
        if not running:
            self.connections.value = "<i>not running</i>"
            return
        snapshot = server.snapshot()
        rows = "".join(
            f"<tr><td><code>{html.escape(c['client_id'][-8:])}</code></td>"
            f"<td>{html.escape(c['user'] or 'anonymous')}</td>"
            f"<td>{html.escape(c['channel_id'][:24])}</td><td>{c['backlog']}</td></tr>"
            for c in snapshot["connections"]
        )
        channels = "; ".join(
            f"<b>{html.escape(ch[:24])}</b>: {len(members)}" for ch, members in snapshot["channels"].items()
        )
        self.connections.value = (
            f"<div>{len(snapshot['connections'])} connections · {len(snapshot['users'])} users online · "
            f"{snapshot['registered_users']} registered</div>"
            f"<table><tr><th>client</th><th>user</th><th>channel</th><th>backlog</th></tr>{rows}</table>"
            f"<div>channels: {channels or '-'}</div>"
        )
        walker_rows = "".join(
            f"<tr><td><b>{html.escape(x['name'])}</b></td><td>{', '.join(x['methods'])}</td>"
            f"<td>{'yes' if x['auth'] else 'no'}</td>"
            f"<td>{html.escape(', '.join(f['name'] + ': ' + f['type'] for f in x['fields']))}</td></tr>"
            for x in snapshot["walkers"]
        )
        self.walker_table.value = (
            "<table><tr><th>walker</th><th>methods</th><th>auth</th><th>fields</th></tr>" + walker_rows + "</table>"
        )

    def flush(self) -> int:
        """Apply pending refreshes now."""
        return self.updates.flush()


class FlowView(anywidget.AnyWidget):
    """A live sequence diagram: a lane per client and the server, an arrow per message."""

    _esm = Path(__file__).with_name("flow.js")
    _css = Path(__file__).with_name("flow.css")
    lanes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    flows = traitlets.List(traitlets.Dict()).tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)

    def __init__(self, traffic: Traffic, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.traffic = traffic
        self.updates = UpdateQueue(self._apply)
        self.lanes = [SERVER, *[c.name for c in traffic.clients]]
        traffic.on_flow(self.updates.push)
        self._apply([])

    def _apply(self, batch: list[Flow]) -> None:
        flows = self.traffic.flows[-FLOW_ROWS:]
        lanes = list(self.lanes)
        for flow in flows:
            for lane in (flow.source, flow.target):
                if lane not in lanes:
                    lanes.append(lane)
        with self.hold_sync():
            self.lanes = lanes
            self.flows = [f.to_dict() for f in flows]
            self.total = self.traffic.total

    def flush(self) -> int:
        """Apply pending flows now."""
        return self.updates.flush()


class Playground(w.VBox):  # type: ignore[misc]
    """The server panel, the message-flow view and a card per client, side by side."""

    def __init__(self, server: Any, clients: Sequence[Client] = ()) -> None:
        self.server = server
        self.traffic = Traffic(clients)
        self.walkers = fetch_walkers(server.url) if server.state.value == "running" else []
        self.panel = ServerPanel(server)
        self.flow = FlowView(self.traffic)
        self.cards: list[ClientCard] = []
        self.grid = w.HBox(layout={"flex_flow": "row wrap"})
        super().__init__([self.panel, self.flow, self.grid])
        self.add_class("jacws-playground")
        for client in clients:
            self.add(client)

    def add(self, client: Client) -> ClientCard:
        """Add a card for another client."""
        self.traffic.watch(client)
        card = ClientCard(client, self.walkers, self.traffic, [c for c in self.traffic.clients if c is not client])
        client.on_state(lambda _client: self.panel.poke())
        self.cards.append(card)
        self.grid.children = [*self.grid.children, card]
        self.panel.poke()
        return card

    def card(self, client: Client) -> ClientCard:
        """The card of a client."""
        return next(c for c in self.cards if c.client is client)

    def flush(self) -> int:
        """Apply every pending update of every view now; return how many."""
        return self.panel.flush() + self.flow.flush() + sum(card.flush() for card in self.cards)

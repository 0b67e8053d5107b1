"""The client card: one simulated client's identity, timeline of sent and received events, and forms for every event."""

from __future__ import annotations

import base64
import logging
import urllib.request
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import anywidget
import orjson
import traitlets

from ..client import Client, ClientState, Message, Sent
from ..errors import JacWSError
from ..flows import KINDS, as_json
from ..protocol import PUBLIC_ROOT_ID
from ..rest import FileValue
from ..traffic import Traffic
from .timeline import Entry, Item, one_line, progress_of, sent_kind
from .updates import WIDGETS_LOCK, UpdateQueue, locked

__all__ = ["ENTRIES", "ClientCard", "fetch_walkers"]

HERE = Path(__file__).parent
log = logging.getLogger("jacws.widgets")

ENTRIES = 50
"""How many of the latest timeline entries (after the filter) a card shows."""

TIMELINE_KEEP = 5000
"""How many sent and received events a card keeps for its filters."""

DIRECTIONS = ("all", "sent", "received")


def fetch_walkers(base_url: str, timeout: float = 5) -> list[dict[str, Any]]:
    """The server's walker catalogue (``GET /walkers``)."""
    with urllib.request.urlopen(f"{base_url}/walkers", timeout=timeout) as response:
        walkers: list[dict[str, Any]] = orjson.loads(response.read())["walkers"]
    return walkers


def _parse_value(text: str, type_label: str) -> Any:
    if type_label == "str":
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


class ClientCard(anywidget.AnyWidget):
    """One simulated client: state, copyable ids, one timeline of what it sent and received, a form for every event.

    Everything the browser shows is in the traits below; the forms send custom messages
    that :meth:`act` carries out (tests call it the same way). Updates from the client's
    thread are applied in batches by the display thread (:mod:`jacws.widgets.updates`).

    Args:
        client: the client to show and drive.
        walkers: the walker catalogue (fetched from the server when omitted).
        traffic: where each received message came from (one of the client's own when omitted).
        peers: other clients, offered as targets and identities in the forms.
        live: follow the client now; else from :meth:`start` on (when it is first displayed or flushed), so
            a card nobody displays costs its client nothing.
    """

    _esm = HERE / "card.js"
    _css = (HERE / "flow.css").read_text() + (HERE / "card.css").read_text()
    name = traitlets.Unicode().tag(sync=True)
    identity = traitlets.Unicode().tag(sync=True)
    state = traitlets.Unicode().tag(sync=True)
    close_code = traitlets.Int(None, allow_none=True).tag(sync=True)
    ids = traitlets.Dict().tag(sync=True)
    progress = traitlets.Dict().tag(sync=True)
    rtt = traitlets.Dict().tag(sync=True)
    walkers = traitlets.List(traitlets.Dict()).tag(sync=True)
    base_url = traitlets.Unicode().tag(sync=True)
    targets = traitlets.Dict().tag(sync=True)
    identities = traitlets.List(traitlets.List()).tag(sync=True)
    status = traitlets.Dict().tag(sync=True)
    filters = traitlets.List(traitlets.Unicode()).tag(sync=True)
    filter = traitlets.Unicode("all").tag(sync=True)
    counts = traitlets.Dict().tag(sync=True)
    entries = traitlets.List(traitlets.Dict()).tag(sync=True)
    can_graph = traitlets.Bool(False).tag(sync=True)

    def __init__(
        self,
        client: Client,
        walkers: list[dict[str, Any]] | None = None,
        traffic: Traffic | None = None,
        peers: Sequence[Client] = (),
        live: bool = True,
    ) -> None:
        super().__init__()
        self.client = client
        self.traffic = traffic if traffic is not None else Traffic([client])
        self.peers = list(peers)
        catalogue = walkers if walkers is not None else self._fetch_walkers()
        # The widget holds labels and indexes only: tokens stay in Python, out of saved widget state.
        own = (f"{client.name} (its own token)", client.token, client.email)
        self._own = own if client.token else None
        self._identities: list[tuple[str, str | None, str | None]] = []
        self._timeline: deque[Item] = deque(maxlen=TIMELINE_KEEP)
        self._entries: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._kinds_seen: set[str] = set()
        self._sent = self._received = 0
        self.updates = UpdateQueue(self._apply)
        self.live = False
        self._on_graph: Callable[[], Any] | None = None
        with WIDGETS_LOCK:
            self.name = client.name
            self.base_url = client.base_url
            self.walkers = [w for w in catalogue if w.get("websocket") or (_takes_files(w) and "post" in w["methods"])]
            self.status = {}
            self._apply([("state", None)])
        self.observe(self._on_filter, "filter")
        self.on_msg(self._on_front_end)
        if live:
            self.start()

    def start(self) -> None:
        """Follow the client: what it sent and received before (the latest kept), then every update."""
        with WIDGETS_LOCK:  # no batch is applied before what happened earlier
            if self.live:
                return
            self.live = True
            self.traffic.start()
            inbox, sent = self.client.subscribe(
                on_message=lambda _client, message: self.updates.push(("in", message)),
                on_send=lambda _client, sending: self.updates.push(("out", sending)),
                on_state=lambda _client: self.updates.push(("state", None)),
            )
            # The latest kept of each, merged by time; _apply counts what it replays on top of the rest.
            self._sent, self._received = max(0, len(sent) - TIMELINE_KEEP), max(0, len(inbox) - TIMELINE_KEEP)
            earlier: list[tuple[float, str, Any]] = [(s.sent_at, "out", s) for s in sent[-TIMELINE_KEEP:]]
            earlier += [(m.received_at, "in", m) for m in inbox[-TIMELINE_KEEP:]]
            earlier.sort(key=lambda stamped: stamped[0])
            self._apply([("state", None), *((what, item) for _, what, item in earlier)])

    @property
    def on_graph(self) -> Callable[[], Any] | None:
        """What the card's ``graph`` button does (the playground shows the user's graph); None hides it."""
        return self._on_graph

    @on_graph.setter
    def on_graph(self, action: Callable[[], Any] | None) -> None:
        self._on_graph = action
        with WIDGETS_LOCK:
            self.can_graph = action is not None

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.start()  # displayed: from now on it follows its client
        return super()._repr_mimebundle_(**kwargs)

    def _fetch_walkers(self) -> list[dict[str, Any]]:
        try:
            return fetch_walkers(self.client.base_url)
        except (OSError, ValueError, KeyError):  # no server there, or one without the /walkers catalogue
            return []

    # -- applying updates (the display thread, under WIDGETS_LOCK) ---------------------------

    def _apply(self, updates: list[tuple[str, Any]]) -> None:
        header = False
        answered = False
        for what, item in updates:
            if what == "state":
                header = True
                continue
            if what == "in":
                kind = self.traffic.route_of(self.client, item).kind
                self._received += 1
                header = header or kind == "connection"
                answered = answered or kind == "response"
                progress = progress_of(item.data)
                if progress is not None:
                    self.progress = progress
            else:
                kind = sent_kind(item)
                self._sent += 1
            self._timeline.append(Item(what == "out", item, kind))
            self._kinds_seen.add(kind)
        with self.hold_sync():
            if header:
                self._render_header()
            self._render_targets()
            if answered:
                self._render_rtt()
            self._render_timeline()

    @staticmethod
    def _key(what: str, item: Any) -> str:
        return f"in{item.index}" if what == "in" else f"out{item.connection}-{item.number}"

    def _entry(self, kept: Item) -> dict[str, Any]:
        """A timeline line for the browser (built only for the lines shown, and remembered)."""
        key = self._key("out" if kept.out else "in", kept.item)
        entry = self._entries.get(key)
        if entry is None:
            try:  # a peer can send anything: one odd message must not cost the others their place
                made = self._sent_entry(kept.item) if kept.out else self._received_entry(kept.item)
                entry = made.to_dict()
            except Exception:
                log.exception("the card of %s could not show a message", self.client.name)
                entry = Entry(key, kept.out, 0.0, kept.kind, "(could not be shown)", "", "").to_dict()
            self._entries[key] = entry
            while len(self._entries) > 4 * ENTRIES:
                self._entries.popitem(last=False)
        return entry

    def _received_entry(self, message: Message) -> Entry:
        route = self.traffic.route_of(self.client, message)
        data = message.data
        label = one_line(data)
        if route.kind == "response" and isinstance(data.get("reports"), list):
            label = f"reports ({len(data['reports'])})"
        elif route.kind == "error":
            label = f"{data.get('code')}: {str(data.get('error'))[:80]}"
        elif route.kind == "connection" and isinstance(data.get("data"), dict):
            label = "anonymous" if data["data"].get("root_id") == PUBLIC_ROOT_ID else "logged in"
        at = message.received_at
        return Entry(self._key("in", message), False, at, route.kind, label, route.text, as_json(data), route.latency)

    def _sent_entry(self, sent: Sent) -> Entry:
        event = sent.event
        kind = sent_kind(sent)
        label, route = kind, ""
        if kind == "walker":
            label = str(event.get("walker"))
            route = "with response" if event.get("response") else "no response asked"
        elif kind in ("user", "channel", "client"):
            ids = event.get(f"{kind}_ids") or event.get("root_ids") or []
            label = one_line(event.get("data"))
            route = f"to {kind} " + ", ".join(self._target_name(kind, str(i)) for i in ids)
        elif kind == "notification":  # an extension's event (join, leave, presence, recover): named by its type
            label = str(event.get("type"))
            channels = event.get("channel_ids") or ([event["channel_id"]] if "channel_id" in event else [])
            route = "channels " + ", ".join(str(c) for c in channels) if channels else ""
        return Entry(self._key("out", sent), True, sent.sent_at, kind, label, route, as_json(event))

    def _target_name(self, kind: str, value: str) -> str:
        for who in [self.client, *self.peers]:
            if (kind == "client" and who.client_id == value) or (kind == "user" and who.root_id == value):
                return who.name
        return value if len(value) <= 24 else value[:10] + "…" + value[-6:]

    def _render_header(self) -> None:
        client = self.client
        self.state = client.state.value
        self.close_code = client.close_code if client.state is ClientState.CLOSED else None
        self.identity = "anonymous" if client.anonymous else (client.email or "logged in")
        self.ids = {"client_id": client.client_id, "root_id": client.root_id, "channel_id": client.channel_id}

    def _render_targets(self) -> None:
        everyone = [self.client, *self.peers]
        users: dict[str, str] = {}
        for who in everyone:
            if who.root_id and who.root_id != PUBLIC_ROOT_ID:  # the server refuses user events to the public root
                users.setdefault(who.root_id, who.email or who.name)
        channels = dict.fromkeys(who.channel_id for who in everyone if who.channel_id)
        targets = {
            "user": [[label, root] for root, label in users.items()],
            "channel": [[channel, channel] for channel in channels],
            "client": [
                [who.name, who.client_id] for who in everyone if who.client_id and who.state is ClientState.OPEN
            ],
        }
        if targets != self.targets:
            self.targets = targets
        self._render_identities()

    def _render_identities(self) -> None:
        """Whom the card can become: anonymous, its own first identity, every peer logged in."""
        identities: list[tuple[str, str | None, str | None]] = [("anonymous", None, None)]
        if self._own is not None:
            identities.append(self._own)
        seen = {self._own[1]} if self._own is not None else set()
        for peer in self.peers:
            if peer.token and peer.token not in seen:
                seen.add(peer.token)
                identities.append((peer.name, peer.token, peer.email))
        if identities != self._identities:
            self._identities = identities
            self.identities = [[label, index] for index, (label, _, _) in enumerate(identities)]

    def _render_rtt(self) -> None:
        rtts = self.client.rtts
        if rtts:
            mean = sum(rtts) / len(rtts)
            self.rtt = {"last": rtts[-1] * 1000, "mean": mean * 1000, "count": len(rtts)}

    def _render_timeline(self) -> None:
        chosen = self.filter
        kinds = [k for k in KINDS if k in self._kinds_seen]
        filters = [*DIRECTIONS, *kinds]
        if filters != self.filters:
            self.filters = filters
        if chosen == "all":
            matching = list(self._timeline)
        elif chosen in ("sent", "received"):
            matching = [e for e in self._timeline if e.out == (chosen == "sent")]
        else:
            matching = [e for e in self._timeline if e.kind == chosen]
        self.entries = [self._entry(e) for e in reversed(matching[-ENTRIES:])]  # newest first
        self.counts = {"shown": len(matching), "received": self._received, "sent": self._sent}

    @locked
    def _on_filter(self, _change: Any) -> None:
        self._render_timeline()

    # -- actions (from the browser, on the kernel's main thread) -----------------------------

    def _on_front_end(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and "action" in content:
            self.act(content)

    def act(self, action: dict[str, Any]) -> None:
        """Carry out one form action, as the browser sends it; the outcome goes to ``status``.

        Actions: ``{"action": "walker", "walker", "fields": {name: text}, "response"}``,
        ``{"action": "send", "kind": "user"|"channel"|"client", "ids": "a, b", "data": "<json>"}``,
        ``{"action": "change_user", "identity": index}``, ``{"action": "connection"}``,
        ``{"action": "reconnect"}``, ``{"action": "close"}``; extensions: ``{"action": "join", "ids": "a, b",
        "presence": bool}``, ``{"action": "leave", "ids": ...}``, ``{"action": "presence", "ids": "a"}``.
        """
        try:
            outcome = self._act(action)
        except (JacWSError, ValueError, TimeoutError, FutureTimeout) as error:
            status = {"text": str(error), "level": "error"}
        else:
            status = {"text": outcome, "level": "ok"}
        with WIDGETS_LOCK:
            self.status = status

    def _act(self, action: dict[str, Any]) -> str:
        client = self.client
        kind = action.get("action")
        if kind == "walker":
            name, fields = str(action.get("walker") or ""), action.get("fields") or {}
            return self._run_walker(name, fields, action.get("response"), action.get("files") or {})
        if kind == "send":
            ids, data = str(action.get("ids") or ""), str(action.get("data") or "")
            return self._send_message(str(action.get("kind")), ids, data)
        if kind == "change_user":
            index = action.get("identity")
            if not isinstance(index, int) or not 0 <= index < len(self._identities):
                raise ValueError("pick someone to become")
            label, token, email = self._identities[index]
            info = client.change_user(token, email=email)
            self.updates.push(("state", None))
            return f"now {label}: root {info.get('root_id')}"
        if kind == "connection":
            client.send({"type": "connection"})
            return "asked for the connection event"
        if kind == "graph":
            if self._on_graph is None:
                raise ValueError("this card has no graph to show (its server is not in this process)")
            shown = self._on_graph()
            return "the user's graph is shown under the card" if shown is not None else "graph hidden"
        if kind in ("join", "leave", "presence"):
            return self._channels(kind, str(action.get("ids") or ""), bool(action.get("presence")))
        if kind == "reconnect":
            client.reconnect()
            return f"reconnected as client {client.client_id}"
        if kind == "close":
            client.close()
            return "closed"
        raise ValueError(f"unknown action {kind!r}")

    def _channels(self, kind: str, ids_text: str, presence: bool) -> str:
        ids = [i.strip() for i in ids_text.split(",") if i.strip()]
        if not ids:
            raise ValueError("give at least one channel id")
        if kind == "presence":
            members = self.client.presence(ids[0])
            names = ", ".join(self._target_name("client", m["client_id"]) for m in members)
            return f"on {ids[0]}: {names or 'nobody'}"
        client = self.client
        channels = client.join(ids, presence=presence) if kind == "join" else client.leave(ids)
        return "on channels: " + (", ".join(channels) or "none")

    def _run_walker(self, walker: str, fields: dict[str, Any], response: Any, files: dict[str, Any]) -> str:
        entry = next((w for w in self.walkers if w["name"] == walker), None)
        if entry is None:
            raise ValueError("pick a walker the server declares for the websocket")
        types = {spec["name"]: spec["type"] for spec in entry["fields"]}
        context = {name: _parse_value(str(text), types.get(name, "str")) for name, text in fields.items() if text != ""}
        if _takes_files(entry):  # files travel over REST only
            picked: dict[str, FileValue | list[FileValue]] = {
                name: [_picked_file(f) for f in chosen] for name, chosen in files.items() if chosen
            }
            answer = self.client.rest(walker, files=picked, **context)
            if "http_status" in answer:
                raise ValueError(f"{walker} over REST: {answer.get('error', answer)}")
            return f"{walker} over REST answered: {orjson.dumps(answer.get('reports')).decode()[:300]}"
        self.client.walker(walker, response=bool(response), **context)
        return f"walker {walker} sent" + (": its answer will appear below" if response else "")

    def _send_message(self, kind: str, ids_text: str, data_text: str) -> str:
        if kind not in ("user", "channel", "client"):
            raise ValueError("send to user, channel or client")
        ids = [i.strip() for i in ids_text.split(",") if i.strip()]
        if not ids:
            raise ValueError(f"give at least one {kind} id")
        if kind == "user" and PUBLIC_ROOT_ID in ids:
            raise ValueError("the server refuses user events to the public root (every anonymous client)")
        try:
            data = orjson.loads(data_text)
        except orjson.JSONDecodeError as error:
            raise ValueError(f"data is not JSON: {error}") from None
        getattr(self.client, kind)(ids, data)
        return f"sent to {kind} " + ", ".join(self._target_name(kind, i) for i in ids)

    def flush(self) -> int:
        """Apply pending updates now (following the client from now on, if it did not yet)."""
        self.start()
        return self.updates.flush()


def _takes_files(entry: dict[str, Any]) -> bool:
    """Whether a catalogue entry has file fields (then it runs over REST, with uploads)."""
    return any(spec["type"] in ("file", "files") for spec in entry["fields"])


def _picked_file(picked: dict[str, Any]) -> FileValue:
    """A file the browser picked (``{"name", "type", "data"}``, the content in base64) for :meth:`Client.rest`."""
    try:
        content = base64.b64decode(str(picked["data"]), validate=True)
    except (KeyError, ValueError) as error:
        raise ValueError(f"a picked file could not be read: {error}") from None
    return str(picked.get("name") or "file"), content, str(picked.get("type") or "application/octet-stream")

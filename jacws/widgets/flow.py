"""The flow view: a live sequence diagram of a :class:`~jacws.traffic.Traffic`, a lane per client and the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..traffic import KINDS, SERVER, Flow, Traffic
from .updates import WIDGETS_LOCK, UpdateQueue

__all__ = ["FlowView"]

HERE = Path(__file__).parent


def _compact(flow: Flow) -> tuple[Any, ...]:
    """A flow as the front end's array: seq, at, source, target, kind, label, route, cause, latency, text."""
    return tuple(flow)  # Flow's fields are in that order


class FlowView(anywidget.AnyWidget):
    """A live sequence diagram: a lane per client and the server, an arrow per message.

    New flows reach the browser in batches (custom ``append`` messages), and a new view gets
    all of them (``reset``); it keeps the latest ``keep`` and draws only the rows in view.
    The legend's kinds and the client chips filter; clicking an arrow shows the whole
    message, its time, its latency and the send that caused it.
    """

    _esm = HERE / "flow.js"
    _css = HERE / "flow.css"
    lanes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    kinds = traitlets.List(traitlets.Unicode(), default_value=list(KINDS)).tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)

    def __init__(self, traffic: Traffic, keep: int = 10_000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.traffic = traffic
        self.keep = keep
        self.sent_seq = 0  # the newest flow sent to the browser
        self.updates = UpdateQueue(self._apply)
        self.lanes = [SERVER, *[c.name for c in traffic.clients]]
        self.on_msg(self._on_front_end)
        traffic.on_change(self._on_change)
        self.add_class("jacws-flow-view")

    def _on_change(self) -> None:
        self.updates.push(None)  # a batch sends every flow after sent_seq

    def _apply(self, batch: list[Any]) -> None:
        flows = self.traffic.flows_after(self.sent_seq)
        if not flows:
            return
        lanes = list(self.lanes)
        for client in self.traffic.clients:
            if client.name not in lanes:
                lanes.append(client.name)
        for flow in flows:
            for lane in (flow.source, flow.target):
                if lane not in lanes:
                    lanes.append(lane)
        self.sent_seq = flows[-1].seq
        with self.hold_sync():
            if lanes != self.lanes:
                self.lanes = lanes
            self.total = self.traffic.total
        self.send({"type": "append", "flows": [_compact(f) for f in flows[-self.keep :]], "keep": self.keep})

    def _on_front_end(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "hello":
            with WIDGETS_LOCK:  # every flow sent so far, and no batch in between
                known = [f for f in self.traffic.flows if f.seq <= self.sent_seq][-self.keep :]
                self.send({"type": "reset", "flows": [_compact(f) for f in known], "keep": self.keep})

    @property
    def flows(self) -> list[dict[str, Any]]:
        """The flows the browser has been sent (the latest ``keep``), as dicts."""
        return [f.to_dict() for f in self.traffic.flows if f.seq <= self.sent_seq][-self.keep :]

    def flush(self) -> int:
        """Send pending flows now."""
        return self.updates.flush()

"""Walkers for the session, export and replay tests (copied next to exported tests, then edited)."""

from __future__ import annotations

from jacws import Node, Root, Walker, on_entry, socket


class Memo(Node):
    text: str = ""


class s_greet(Walker):
    name: str = "world"

    class __specs__:
        methods = ["websocket", "post"]
        auth = False

    @on_entry(Root)
    def hello(self, here: Root) -> None:
        socket.notify_channels(["lobby"], {"type": "greeting", "text": f"hello {self.name}"})
        self.report(f"greeted {self.name}")


class s_remember(Walker):
    text: str = ""

    class __specs__:
        methods = ["websocket", "post"]

    @on_entry(Root)
    def keep(self, here: Root) -> None:
        self.report(here.connect(Memo(text=self.text)))

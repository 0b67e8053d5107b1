"""Walkers the tests serve. Importing this module registers them."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from typing import Any

from jacws import Node, Root, UploadFile, Walker, on_entry, on_exit, socket


class Note(Node):
    text: str
    likes: int = 0


class t_echo(Walker):
    value: int
    label: str = "x"

    class __specs__:
        methods = ["websocket", "post", "get"]
        auth = False

    @on_entry(Root)
    def enter(self, here: Root) -> None:
        self.report({"value": self.value, "label": self.label})


class t_whoami(Walker):
    class __specs__:
        methods = ["websocket", "post"]
        auth = False

    @on_entry(Root)
    def enter(self, here: Root) -> None:
        self.report(here.id)


class t_private_note(Walker):
    text: str = "mine"

    class __specs__:
        methods = ["websocket", "post"]

    @on_entry(Root)
    def enter(self, here: Root) -> None:
        note = here.connect(Note(text=self.text))
        self.report(note)


class t_rest_only(Walker):
    class __specs__:
        auth = False

    @on_entry(Root)
    def enter(self, here: Root) -> None:
        self.report("rest")


class t_boom(Walker):
    class __specs__:
        methods = ["websocket", "post"]
        auth = False

    @on_entry(Root)
    def enter(self, here: Root) -> None:
        raise ValueError("secret detail /srv/app/secrets.py line 3")


class t_slow(Walker):
    seconds: float = 1.0

    class __specs__:
        methods = ["websocket"]
        auth = False

    @on_entry(Root)
    async def enter(self, here: Root) -> None:
        await asyncio.sleep(self.seconds)
        self.report("slept")


class t_rest_sleep(Walker):
    seconds: float = 1.0

    class __specs__:
        methods = ["post"]
        auth = False

    @on_entry(Root)
    async def enter(self, here: Root) -> None:
        await asyncio.sleep(self.seconds)
        self.report("slept")


class t_sync_slow(Walker):
    seconds: float = 1.0

    class __specs__:
        methods = ["websocket"]
        auth = False

    @on_entry(Root)
    def enter(self, here: Root) -> None:
        threading.Event().wait(self.seconds)
        self.report("slept")


class t_progress(Walker):
    steps: int = 3
    asynchronous: bool = False

    class __specs__:
        methods = ["websocket", "post"]
        auth = False

    @on_entry(Root)
    def enter(self, here: Root) -> None:
        for step in range(self.steps):
            socket.notify_self({"progress": f"{step}", "status": "inprogress"})
        self.report("done")


class t_async_progress(Walker):
    steps: int = 3

    class __specs__:
        methods = ["websocket", "post"]
        auth = False

    @on_entry(Root)
    async def enter(self, here: Root) -> None:
        for step in range(self.steps):
            socket.notify_self({"progress": f"{step}", "status": "inprogress"})
            await asyncio.sleep(0)
        self.report("done")


class t_notify(Walker):
    """Sends data through one of the notify calls; kind is users, channels or clients."""

    kind: str
    ids: list[str]
    data: dict[str, Any] = {}
    asynchronous: bool = False

    class __specs__:
        methods = ["websocket", "post"]
        auth = False

    @on_entry(Root)
    def enter(self, here: Root) -> None:
        getattr(socket, f"notify_{self.kind}")(self.ids, self.data)
        self.report("notified")


class t_async_notify(Walker):
    kind: str
    ids: list[str]
    data: dict[str, Any] = {}

    class __specs__:
        methods = ["websocket", "post"]
        auth = False

    @on_entry(Root)
    async def enter(self, here: Root) -> None:
        getattr(socket, f"notify_{self.kind}")(self.ids, self.data)
        self.report("notified")


class t_threads(Walker):
    """Reports the thread each ability ran on."""

    class __specs__:
        methods = ["websocket"]
        auth = False

    @on_entry(Root)
    def plain(self, here: Root) -> None:
        self.report(threading.current_thread().name)

    @on_entry(Root)
    async def coroutine(self, here: Root) -> None:
        self.report(threading.current_thread().name)


class t_tour(Walker):
    """Builds a small graph, visits it, and logs entries and exits; stops at a note saying stop."""

    texts: list[str] = ["a", "b", "stop", "c"]

    class __specs__:
        methods = ["websocket"]

    @on_entry(Root)
    def start(self, here: Root) -> None:
        for text in self.texts:
            here.connect(Note(text=text))
        self.visit(here.nodes(Note))

    @on_entry(Note)
    def at_note(self, here: Note) -> None:
        self.report(f"enter {here.text}")
        if here.text == "stop":
            self.disengage()

    @on_exit
    def leaving(self, here: Node) -> None:
        self.report(f"exit {type(here).__name__}")


class t_like(Walker):
    """Runs on a given note and likes it."""

    class __specs__:
        methods = ["websocket", "post"]

    @on_entry(Note)
    def like(self, here: Note) -> None:
        here.likes += 1
        self.report(here)


class t_notes(Walker):
    class __specs__:
        methods = ["websocket", "post"]

    @on_entry(Root)
    def enter(self, here: Root) -> None:
        self.report([note.context for note in here.nodes(Note)])


class t_bad_report(Walker):
    class __specs__:
        methods = ["websocket"]
        auth = False

    @on_entry(Root)
    def enter(self, here: Root) -> None:
        self.report(object())


class t_chain(Walker):
    """Builds root -> first -> second on its first run, then walks the chain reporting each note's text."""

    class __specs__:
        methods = ["websocket", "post"]

    @on_entry(Root)
    def start(self, here: Root) -> None:
        if not here.nodes(Note):
            here.connect(Note(text="first")).connect(Note(text="second"))
        self.visit(here.nodes(Note))

    @on_entry(Note)
    def at_note(self, here: Note) -> None:
        self.report(here.text)
        self.visit(here.nodes(Note))


class t_many(Walker):
    """Hangs ``count`` notes off the root."""

    count: int = 1000

    class __specs__:
        methods = ["websocket", "post"]

    @on_entry(Root)
    def start(self, here: Root) -> None:
        for n in range(self.count):
            here.connect(Note(text=f"note {n}"))


class t_upload(Walker):
    """One file and two text fields, over REST (the socket refuses it: files need REST)."""

    file: UploadFile
    note: str = ""
    copies: int = 1

    class __specs__:
        methods = ["websocket", "post"]

    @on_entry(Root)
    async def enter(self, here: Root) -> None:
        data = await self.file.read()
        self.report(
            {
                "name": self.file.filename,
                "type": self.file.content_type,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "note": self.note,
                "copies": self.copies,
            }
        )


class t_uploads(Walker):
    """Several files (and maybe none), read by a plain ability in a worker thread."""

    files: list[UploadFile]
    tag: str | None = None

    class __specs__:
        methods = ["post"]
        auth = False

    @on_entry(Root)
    def enter(self, here: Root) -> None:
        self.report([{"name": f.filename, "bytes": f.file.read().decode()} for f in self.files])
        self.report(self.tag)

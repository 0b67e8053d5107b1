"""The seed's websocket chat walkers, line for line in Python, plus a progress walker.

Serve them with ``jacws serve examples/chat.py --port 8000``.
"""

import asyncio
from typing import Annotated

from pydantic import Field

from jacws import Root, Walker, on_entry, socket

###########################################################
#                   WEBSOCKET ENDPOINTS                   #
###########################################################


class send_chat_to_user(Walker):
    root_id: str

    @on_entry(Root)
    def enter1(self, here: Root) -> None:
        socket.notify_users([self.root_id], {"type": "chat", "data": {"message": "string"}})

    class __specs__:
        methods = ["websocket", "post"]


class send_chat_to_group(Walker):
    channel_id: str

    @on_entry(Root)
    def enter1(self, here: Root) -> None:
        socket.notify_channels([self.channel_id], {"type": "chat", "data": {"message": "string"}})

    class __specs__:
        methods = ["websocket", "post"]


class send_chat_to_client(Walker):
    client_id: str

    @on_entry(Root)
    def enter1(self, here: Root) -> None:
        socket.notify_clients([self.client_id], {"type": "chat", "data": {"message": "string"}})

    class __specs__:
        methods = ["websocket", "post"]


class long_task(Walker):
    """Reports its progress to the caller's socket with notify_self, then reports "done".

    Anyone may run it, so it is bounded: at most 20 steps of 0.05 to 1 s (it sleeps, it does not compute).
    """

    steps: Annotated[int, Field(ge=1, le=20)] = 5
    delay: Annotated[float, Field(ge=0.05, le=1.0)] = 0.2

    @on_entry(Root)
    async def work(self, here: Root) -> None:
        socket.notify_self({"any_field": "for_progress", "progress": "0%", "status": "started"})
        for step in range(1, self.steps + 1):
            await asyncio.sleep(self.delay)
            status = "completed" if step == self.steps else "inprogress"
            progress = f"{100 * step // self.steps}%"
            socket.notify_self({"any_field": "for_progress", "progress": progress, "status": status})
        self.report("done")

    class __specs__:
        methods = ["websocket", "post"]
        auth = False

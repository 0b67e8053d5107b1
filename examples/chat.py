"""The seed's websocket chat walkers, line for line in Python, plus a progress walker.

Serve them with ``jacws serve examples/chat.py --port 8000``.
"""

import asyncio

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
    """Reports its progress to the caller's socket with notify_self, then reports "done"."""

    steps: int = 5
    delay: float = 0.2

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

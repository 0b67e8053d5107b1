"""Several channels per connection (extension): ``join`` and ``leave``, answered with every channel of the
connection; with a relay that routes by interest, a join is answered once other processes' messages reach it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .connection import ConnectionState
from .errors import TooManyChannels
from .protocol import JoinEvent, LeaveEvent, channels_message

if TYPE_CHECKING:
    from .connection import Connection
    from .hub import Hub
    from .trace import Cause

__all__ = ["Rooms"]


class Rooms:
    """Joins and leaves of one hub's connections."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._joining: set[asyncio.Future[None]] = set()  # joins waiting for the relay's subscriptions

    def move(self, conn: Connection, event: JoinEvent | LeaveEvent, cause: Cause | None) -> None:
        """Join or leave channels and answer with every channel ``conn`` is on (``cause``: why, for traces)."""
        hub = self.hub
        if isinstance(event, LeaveEvent):
            channels = hub.members.leave_channels(conn, event.channel_ids)
            hub.caused(cause, conn.send_message, channels_message(channels, event.id))
            return
        new = [channel_id for channel_id in event.channel_ids if channel_id not in conn.channels]
        if self._refused(conn, new, event.id, cause):
            return
        if hub.relay.routes_by_interest and new:
            task = asyncio.ensure_future(self._join_when_held(conn, new, event.id, cause))
            self._joining.add(task)
            task.add_done_callback(self._joining.discard)
            return
        channels = hub.members.join_channels(conn, new)
        hub.caused(cause, conn.send_message, channels_message(channels, event.id))

    def _refused(self, conn: Connection, new: list[str], request_id: Any, cause: Cause | None) -> bool:
        """Answer ``too_many_channels`` if joining ``new`` would pass the limit; whether it did."""
        limit = self.hub.limits.max_channels_per_connection
        on = len(conn.channels)
        if on + len(new) <= limit:
            return False
        why = f"a connection may be on at most {limit} channels; it is on {on}, this would add {len(new)}"
        error_cause = cause.with_route("error") if cause is not None else None
        self.hub.caused(error_cause, conn.send_message, TooManyChannels(why).to_wire("error", request_id))
        return True

    async def _join_when_held(self, conn: Connection, new: list[str], request_id: Any, cause: Cause | None) -> None:
        hub = self.hub
        release = await hub.relay.hold(("channel", channel_id) for channel_id in new)
        try:
            if conn.state is not ConnectionState.OPEN or conn.client_id not in hub.connections:
                return
            new = [channel_id for channel_id in new if channel_id not in conn.channels]
            if self._refused(conn, new, request_id, cause):  # another join got there first
                return
            channels = hub.members.join_channels(conn, new)
            hub.caused(cause, conn.send_message, channels_message(channels, request_id))
        finally:
            release()

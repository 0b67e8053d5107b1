"""Several channels per connection and presence (extensions).

``join`` and ``leave`` are answered with every channel of the connection; with a relay that routes by interest, a
join is answered once other processes' messages reach it. Every connection on a channel is a member of it;
``presence`` answers who they are (on every process, with Redis), and a connection that joined with
``presence: true`` is told of members coming (``presence_join``) and going (``presence_leave``), those of a
process that crashed included.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .connection import ConnectionState
from .errors import ClientError, Forbidden, TooManyChannels
from .protocol import (
    JoinEvent,
    LeaveEvent,
    PresenceEvent,
    RecoverEvent,
    channel_message,
    channels_message,
    encode,
    presence_change,
    presence_message,
    recovered_message,
)

if TYPE_CHECKING:
    from .connection import Connection
    from .hub import Hub
    from .relays import Relayed
    from .trace import Cause

__all__ = ["Rooms"]


class Rooms:
    """Joins, leaves and presence of one hub's connections."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.watchers: dict[str, dict[str, Connection]] = {}  # channel -> members told of presence changes
        self._tasks: set[asyncio.Future[None]] = set()  # joins waiting for subscriptions, presence look-ups
        self._sweeper: asyncio.Task[None] | None = None
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()  # numbered messages delivered to plain members
        hub.members.on_channel = self.on_channel

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
        if hub.relay.routes_by_interest and (new or event.presence):
            self._background(self._join_when_held(conn, new, event, cause))
            return
        channels = hub.members.join_channels(conn, new)
        if event.presence:
            self._watch(conn, event.channel_ids)
        hub.caused(cause, conn.send_message, channels_message(channels, event.id))

    def _background(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _refused(self, conn: Connection, new: list[str], request_id: Any, cause: Cause | None) -> bool:
        """Answer ``too_many_channels`` if joining ``new`` would pass the limit; whether it did."""
        limit = self.hub.limits.max_channels_per_connection
        on = len(conn.channels)
        if on + len(new) <= limit:
            return False
        why = f"a connection may be on at most {limit} channels; it is on {on}, this would add {len(new)}"
        self._refuse(conn, TooManyChannels(why), request_id, cause)
        return True

    def _refuse(self, conn: Connection, error: ClientError, request_id: Any, cause: Cause | None) -> None:
        """Answer an extension's event with an error (``type: error``, its ``id`` echoed)."""
        error_cause = cause.with_route("error") if cause is not None else None
        self.hub.caused(error_cause, conn.send_message, error.to_wire("error", request_id))

    async def _join_when_held(self, conn: Connection, new: list[str], event: JoinEvent, cause: Cause | None) -> None:
        hub = self.hub
        request_id = event.id
        keys = [("channel", channel_id) for channel_id in new]
        if event.presence:  # presence changes from other processes must reach it once it is answered
            keys += [("watch", channel_id) for channel_id in event.channel_ids]
        release = await hub.relay.hold(keys)
        try:
            if conn.state is not ConnectionState.OPEN or conn.client_id not in hub.connections:
                return
            new = [channel_id for channel_id in new if channel_id not in conn.channels]
            if self._refused(conn, new, request_id, cause):  # another join got there first
                return
            channels = hub.members.join_channels(conn, new)
            if event.presence:
                self._watch(conn, event.channel_ids)
            hub.caused(cause, conn.send_message, channels_message(channels, request_id))
        finally:
            release()

    # -- presence --------------------------------------------------------------------------

    def _watch(self, conn: Connection, channel_ids: tuple[str, ...]) -> None:
        """Tell ``conn`` of presence changes on these channels (those it is on)."""
        for channel_id in channel_ids:
            if channel_id in conn.channels:
                watching = self.watchers.get(channel_id)
                if watching is None:
                    watching = self.watchers[channel_id] = {}
                    self.hub.relay.interest("watch", channel_id, True)
                watching[conn.client_id] = conn
        if self.hub.relay.shares_presence and self._sweeper is None:
            self._sweeper = asyncio.ensure_future(self._sweep())

    def on_channel(self, channel_id: str, conn: Connection, joined: bool) -> None:
        """(Members) ``conn`` came onto ``channel_id`` or went: keep it for presence, tell the watchers."""
        hub = self.hub
        relay = hub.relay
        if conn.offsets:  # what it may recover ends where its live messages start
            if conn.joined_at is None:
                conn.joined_at = {}
            if joined:
                conn.joined_at[channel_id] = hub.history.latest(channel_id)
            else:
                conn.joined_at.pop(channel_id, None)
        if not joined:
            watching = self.watchers.get(channel_id)
            if watching is not None and watching.pop(conn.client_id, None) is not None and not watching:
                del self.watchers[channel_id]
                relay.interest("watch", channel_id, False)
        if relay.shares_presence:
            if joined:
                relay.presence_added(channel_id, conn.client_id, conn.root_id)
            else:
                relay.presence_removed(channel_id, conn.client_id)
        if self.watchers.get(channel_id) or relay.routes_by_interest:
            self._announce(presence_change(joined, channel_id, conn.client_id, conn.root_id), channel_id)

    def _announce(self, change: dict[str, Any], channel_id: str) -> None:
        """Tell this process's watchers of ``channel_id`` and the other processes' (through the relay)."""
        data = encode(change)
        self.tell(channel_id, data, change["client_id"])
        self.hub.relay.publish("presence", (channel_id,), data)

    def tell(self, channel_id: str, data: bytes, about: str | None = None) -> None:
        """Send a presence change to this process's watchers of ``channel_id`` (not to the member it is about)."""
        watching = self.watchers.get(channel_id)
        if watching:
            targets = {cid: c for cid, c in watching.items() if cid != about}
            self.hub.deliver(targets, data)

    def presence(self, conn: Connection, event: PresenceEvent, cause: Cause | None) -> None:
        """Answer who is on a channel ``conn`` is on (every process's members, with a relay that shares them)."""
        hub = self.hub
        channel_id = event.channel_id
        if channel_id not in conn.channels:
            why = f"only members of a channel may ask who is on it; join {channel_id[:80]!r} first"
            self._refuse(conn, Forbidden(why), event.id, cause)
            return
        here = [{"client_id": c.client_id, "root_id": c.root_id} for c in hub.by_channel.get(channel_id, {}).values()]
        if not hub.relay.shares_presence:
            hub.caused(cause, conn.send_message, presence_message(channel_id, here, event.id))
            return
        self._background(self._answer_with_others(conn, channel_id, here, event.id, cause))

    async def _answer_with_others(
        self, conn: Connection, channel_id: str, here: list[dict[str, str]], request_id: Any, cause: Cause | None
    ) -> None:
        others = await self.hub.relay.presence_members(channel_id)
        known = {member["client_id"] for member in here}
        members = here + [member for member in others if member["client_id"] not in known]
        if conn.state is ConnectionState.OPEN:
            self.hub.caused(cause, conn.send_message, presence_message(channel_id, members, request_id))

    async def _sweep(self) -> None:
        """Every third of the presence timeout: announce gone the members of processes that crashed."""
        relay = self.hub.relay
        period = max(0.1, getattr(relay, "presence_timeout", 20.0) / 3)
        while True:
            await asyncio.sleep(period)
            if not self.watchers:
                continue
            for channel_id, client_id, root_id in await relay.presence_sweep(list(self.watchers)):
                self._announce(presence_change(False, channel_id, client_id, root_id), channel_id)

    # -- channel messages, with offsets for those that asked ------------------------------

    def deliver(self, channel_ids: Sequence[str], data: bytes) -> int:
        """Deliver a channel message to this process's members of the channels. Kept in this process's history,
        it reaches ``?offsets=1`` connections as a ``channel_message`` of the first of their channels; with a
        relay that shares the history they get the numbered copy from the relay instead."""
        hub = self.hub
        targets = hub.members.on_channels(channel_ids)
        numbered_later = hub.relay.shares_history
        history = hub.history
        if not history.enabled and not numbered_later:
            return hub.deliver(targets, data)
        offsets = {} if numbered_later else {c: history.append(c, data) for c in dict.fromkeys(channel_ids)}
        plain = {cid: conn for cid, conn in targets.items() if not conn.offsets}
        if len(plain) == len(targets):
            return hub.deliver(targets, data)
        sent = hub.deliver(plain, data)
        if numbered_later:
            return sent
        framed: dict[str, bytes] = {}
        for cid, conn in targets.items():
            if conn.offsets:
                channel_id = next(c for c in offsets if c in conn.channels)
                frame = framed.get(channel_id)
                if frame is None:
                    frame = framed[channel_id] = channel_message(channel_id, offsets[channel_id], data)
                sent += hub.deliver({cid: conn}, frame)
        return sent

    def deliver_relayed(self, message: Relayed) -> int:
        """A channel message from another process (not numbered): as :meth:`deliver`, without relaying it on."""
        return self.deliver(message.ids, message.data)

    def deliver_numbered(self, message: Relayed) -> int:
        """A numbered copy (a relay sharing the history): the channel's plain members get the first copy of a
        message from another process; ``?offsets=1`` members get the copy of the first of their channels."""
        hub = self.hub
        sent = 0
        if message.origin != hub.relay.origin and self._first_copy(message):
            plain = {cid: c for cid, c in hub.members.on_channels(message.ids).items() if not c.offsets}
            sent = hub.deliver(plain, message.data)
        frame: bytes | None = None
        for conn in list(hub.by_channel.get(message.channel, {}).values()):
            if not conn.offsets or next(c for c in message.ids if c in conn.channels) != message.channel:
                continue
            if frame is None:
                frame = channel_message(message.channel, message.offset, message.data)
            sent += self._live(conn, message.channel, message.offset, frame)
        return sent

    def _first_copy(self, message: Relayed) -> bool:
        key = (message.origin, message.number)
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > 10_000:
            self._seen.popitem(last=False)
        return True

    def _live(self, conn: Connection, channel_id: str, offset: int, frame: bytes) -> int:
        """A numbered message for ``conn``: held while it recovers that channel, dropped if it recovered it."""
        position = _position(conn, channel_id)
        if position.held is not None:
            position.held.append((offset, frame))
            return 0
        if offset <= position.recovered_to:
            return 0
        if not position.live_from:
            position.live_from = offset
        return self.hub.deliver({conn.client_id: conn}, frame)

    # -- recovery ----------------------------------------------------------------------------

    def recover(self, conn: Connection, event: RecoverEvent, cause: Cause | None) -> None:
        """Send the channel's messages after ``event.since`` that came before ``conn``'s live ones, as
        ``channel_message``, then ``recovered`` (``complete`` false when the history no longer has them all)."""
        hub = self.hub
        channel_id = event.channel_id
        if channel_id not in conn.channels:
            why = f"only members of a channel may recover its messages; join {channel_id[:80]!r} first"
            self._refuse(conn, Forbidden(why), event.id, cause)
            return
        if hub.relay.shares_history:
            self._background(self._recover_shared(conn, event, cause))
            return
        joined_at = conn.joined_at or {}
        until = joined_at.get(channel_id, hub.history.latest(channel_id))
        messages, complete = hub.history.between(channel_id, event.since, until)
        for offset, data in messages:
            hub.caused(cause, conn.enqueue, channel_message(channel_id, offset, data))
        reached = max(until, event.since) if complete else until
        hub.caused(cause, conn.send_message, recovered_message(channel_id, reached, complete, event.id))

    async def _recover_shared(self, conn: Connection, event: RecoverEvent, cause: Cause | None) -> None:
        """Recover from the relay's shared history, holding the channel's live messages meanwhile."""
        hub = self.hub
        channel_id = event.channel_id
        position = _position(conn, channel_id)
        until = position.live_from - 1 if position.live_from else None
        if position.held is None:
            position.held = []
        try:
            found, reached, complete = await hub.relay.history_between(channel_id, event.since, until)
        finally:
            held, position.held = position.held or [], None
        if conn.state is not ConnectionState.OPEN:
            return
        for offset, data in found:
            if offset > event.since:
                hub.caused(cause, conn.enqueue, channel_message(channel_id, offset, data))
        hub.caused(cause, conn.send_message, recovered_message(channel_id, reached, complete, event.id))
        position.recovered_to = max(position.recovered_to, reached)
        for offset, frame in held:
            self._live(conn, channel_id, offset, frame)

    def stop(self) -> None:
        """Stop the presence sweeper and the look-ups under way (the server is stopping)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for task in list(self._tasks):
            task.cancel()


@dataclass
class _Position:
    """Where a ``?offsets=1`` connection is in a channel shared across processes."""

    live_from: int = 0  # the offset of its first live message (0: none yet)
    recovered_to: int = 0  # the last offset a recover sent it: later live copies up to it are dropped
    held: list[tuple[int, bytes]] | None = None  # live messages waiting while a recover is under way


def _position(conn: Connection, channel_id: str) -> _Position:
    positions = conn.positions
    if positions is None:
        positions = conn.positions = {}
    position = positions.get(channel_id)
    if position is None:
        position = positions[channel_id] = _Position()
    return position

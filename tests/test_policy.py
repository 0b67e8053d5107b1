"""The publish policy: open, authenticated or a callable; user events to the public root always refused."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fakes import RecordingTransport
from test_hub import ALICE, make_hub

from jacws.errors import Forbidden
from jacws.policy import check_policy
from jacws.protocol import PUBLIC_ROOT_ID, ChannelEvent, PresenceEvent, UserEvent


def test_each_policy_decides_as_documented() -> None:
    async def scenario() -> None:
        hub = make_hub()
        anonymous = hub.connect(RecordingTransport(), None, "room")
        alice = hub.connect(RecordingTransport(), ALICE, "room")
        channel = ChannelEvent(("room",), {"n": 1})
        check_policy("open", anonymous, channel)
        with pytest.raises(Forbidden, match="public root"):
            check_policy("open", alice, UserEvent((PUBLIC_ROOT_ID,), {}))
        with pytest.raises(Forbidden, match="anonymous connections may not publish"):
            check_policy("authenticated", anonymous, PresenceEvent("room"))
        check_policy("authenticated", alice, channel)
        seen: list[Any] = []

        def only_channels(conn: Any, event: Any) -> bool:
            seen.append(event)
            return isinstance(event, ChannelEvent)

        check_policy(only_channels, anonymous, channel)
        with pytest.raises(Forbidden, match="publish policy refused"):
            check_policy(only_channels, anonymous, PresenceEvent("room"))
        assert seen == [channel, PresenceEvent("room")]

    asyncio.run(asyncio.wait_for(scenario(), 10))

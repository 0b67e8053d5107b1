"""A connection's close state machine: OPEN, then CLOSING, then CLOSED, never back."""

from __future__ import annotations

import asyncio

import pytest
from test_hub import connect, make_hub

from jacws.connection import ConnectionState
from jacws.errors import InvalidTransition


@pytest.mark.parametrize(
    ("start", "to", "allowed"),
    [
        (ConnectionState.OPEN, ConnectionState.CLOSING, True),
        (ConnectionState.OPEN, ConnectionState.CLOSED, True),
        (ConnectionState.CLOSING, ConnectionState.CLOSED, True),
        (ConnectionState.CLOSING, ConnectionState.OPEN, False),
        (ConnectionState.CLOSED, ConnectionState.OPEN, False),
        (ConnectionState.CLOSED, ConnectionState.CLOSING, False),
        (ConnectionState.OPEN, ConnectionState.OPEN, False),
    ],
)
def test_every_transition_is_checked(start: ConnectionState, to: ConnectionState, allowed: bool) -> None:
    if allowed:
        assert start.check(to) is to
    else:
        with pytest.raises(InvalidTransition, match=f"from {start.value} to {to.value}"):
            start.check(to)


def test_a_connection_closes_then_is_forgotten_and_stays_closed() -> None:
    async def scenario() -> None:
        hub = make_hub()
        conn, transport = connect(hub, "room")
        conn.close(1000, "bye")
        assert conn.state is ConnectionState.CLOSING and await transport.wait_closed() == (1000, "bye")
        conn.close(1008, "again")  # a second close does nothing
        assert conn.close_code == 1000
        hub.disconnect(conn)
        assert conn.state is ConnectionState.CLOSED
        conn.enqueue(b"{}")  # messages for a closed connection are dropped, not an error
        hub.disconnect(conn)
        assert conn.state is ConnectionState.CLOSED

    asyncio.run(asyncio.wait_for(scenario(), 10))

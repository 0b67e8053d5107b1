"""The hub's watchdog: slow consumers closed once their grace is over, channel history past its age dropped."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .connection import ConnectionState

if TYPE_CHECKING:
    from .hub import Hub

__all__ = ["watch_backlogs"]

HISTORY_SWEEP_SECONDS = 10.0
"""How often channel history past its age is dropped (and channels nobody is on forgotten)."""


async def watch_backlogs(hub: Hub) -> None:
    """Every so often (a tenth of the grace, at most half a second): close the sockets over a backlog limit that
    have not taken a frame for ``slow_consumer_seconds``; forget those back under it."""
    grace = hub.limits.slow_consumer_seconds
    period = min(0.5, max(0.02, grace / 10))
    swept = hub.clock()
    while True:
        await asyncio.sleep(period)
        now = hub.clock()
        if now - swept > HISTORY_SWEEP_SECONDS:
            swept = now
            hub.history.sweep(hub.by_channel)
        for conn in list(hub.backlogged):
            if conn.state is not ConnectionState.OPEN or not conn.over_backlog():
                hub.backlogged.discard(conn)
            elif now - conn.progress_at > grace:
                hub.slow_consumer(conn, f"nothing read for {grace:g} s")

"""The publish policy: who may send ``user``, ``channel`` and ``client`` events (and, extensions, ask for a
channel's presence or watch it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import Forbidden
from .protocol import PUBLIC_ROOT_ID, ChannelEvent, ClientEvent, JoinEvent, PresenceEvent, UserEvent

if TYPE_CHECKING:
    from .connection import Connection
    from .settings import PublishPolicy

__all__ = ["check_policy"]


def check_policy(
    policy: PublishPolicy, conn: Connection, event: UserEvent | ChannelEvent | ClientEvent | PresenceEvent | JoinEvent
) -> None:
    """Let ``conn`` go on with ``event`` under ``policy``.

    Raises:
        Forbidden: a ``user`` event to the public root (it would reach every anonymous client), an anonymous
            connection under ``authenticated``, or a callable policy that said no.
    """
    if isinstance(event, UserEvent) and PUBLIC_ROOT_ID in event.root_ids:
        raise Forbidden("user events to the public root are refused: they would reach every anonymous client")
    if policy == "open":
        return
    if policy == "authenticated":
        if conn.anonymous:
            raise Forbidden("anonymous connections may not publish; log in with change_user")
        return
    if callable(policy) and not policy(conn, event):
        raise Forbidden("the server's publish policy refused this event")

"""A simulated client's calls of the opt-in protocol extensions: several channels and presence."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

from .errors import JacWSError
from .inbox import Message

__all__ = ["ExtensionCalls"]

_numbers = itertools.count(1)


class ExtensionCalls:
    """``join``, ``leave``, ``presence`` and ``recover`` for :class:`~jacws.client.Client` (which gives ``name``,
    ``send``, ``wait_for`` and ``inbox``); each sends one event with an ``id`` and returns the server's answer."""

    name: str
    send: Callable[[dict[str, Any]], None]
    wait_for: Callable[..., Any]

    @property
    def inbox(self) -> list[Message]:
        """Every message received (the client's own)."""
        raise NotImplementedError

    def join(self, channel_ids: Iterable[str], presence: bool = False) -> list[str]:
        """Be on these channels too; return every channel of the connection. With ``presence``, be told of
        their members coming and going (``presence_join``, ``presence_leave`` messages).

        Raises:
            JacWSError: the server refused (``too_many_channels``, ``invalid_event``, ``forbidden``).
        """
        event: dict[str, Any] = {"type": "join", "channel_ids": list(channel_ids)}
        if presence:
            event["presence"] = True
        return list(self._ask(event, "channels")["channel_ids"])

    def leave(self, channel_ids: Iterable[str]) -> list[str]:
        """Be on these channels no more; return the channels the connection is still on."""
        return list(self._ask({"type": "leave", "channel_ids": list(channel_ids)}, "channels")["channel_ids"])

    def presence(self, channel_id: str) -> list[dict[str, str]]:
        """The members of a channel this client is on (``client_id`` and ``root_id`` each), on every process.

        Raises:
            JacWSError: the server refused (``forbidden`` for a channel the client is not on).
        """
        members: list[dict[str, str]] = self._ask({"type": "presence", "channel_id": channel_id}, "presence")["members"]
        return members

    def recover(self, channel_id: str, since: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Ask for a channel's messages after offset ``since`` (a client connected with ``?offsets=1``): the
        ``channel_message`` ones recovered, in order, and the closing ``recovered`` message (``offset``,
        ``complete``)."""
        mark = len(self.inbox)
        done = self._ask({"type": "recover", "channel_id": channel_id, "since": since}, "recovered")
        recovered = [
            m.data
            for m in self.inbox[mark:]
            if m.type == "channel_message" and m.data.get("channel_id") == channel_id and m.data["offset"] > since
        ]
        return [m for m in recovered if m["offset"] <= done["offset"]], done

    def _ask(self, event: dict[str, Any], answer_type: str) -> dict[str, Any]:
        request_id = f"{self.name}-{event['type']}-{next(_numbers)}"
        self.send({**event, "id": request_id})
        answer: dict[str, Any] = self.wait_for(
            lambda m: m.get("id") == request_id and m.get("type") in (answer_type, "error")
        )
        if answer["type"] == "error":
            raise JacWSError(f"{event['type']} refused: {answer['error']} ({answer['code']})")
        return answer

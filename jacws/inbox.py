"""What a simulated client keeps: the messages it received, the events it sent, its walker calls in flight."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from .errors import JacWSError
from .trace import Cause

__all__ = ["Inbox", "Message", "Sent", "WalkerCall"]


@dataclass(frozen=True)
class Message:
    """One message a client received: the parsed JSON, when it arrived (``time.time()``), its place.

    ``cause`` says why the server sent it (which event of which socket, walker run, REST
    call or server call) when the server runs in this process; None otherwise.
    """

    data: Any
    received_at: float
    index: int
    cause: Cause | None = None

    @property
    def type(self) -> str | None:
        """The message's ``type`` key (``connection``, ``chat``, ``error``, ...) or None."""
        return self.data.get("type") if isinstance(self.data, dict) else None

    @property
    def kind(self) -> str:
        """What the message is: connection, response, error or notification."""
        data = self.data
        if isinstance(data, dict):
            if data.get("type") == "connection":
                return "connection"
            if "status" in data and "reports" in data:
                return "response"
            if "error" in data and "code" in data:
                return "error"
        return "notification"


@dataclass(frozen=True)
class Sent:
    """One event a client sent, and when; ``number`` counts the frames of its connection from 1.

    ``connection`` is that connection's trace key (what a received message's cause names).
    """

    event: dict[str, Any]
    sent_at: float
    number: int = 0
    connection: str | None = None


@dataclass
class WalkerCall:
    """A walker event in flight; with ``response: true`` it completes with the answer."""

    walker: str
    request_id: Any
    sent_at: float
    future: Future[Any] = field(default_factory=Future)
    answered_at: float | None = None

    @property
    def rtt(self) -> float | None:
        """Seconds from sending to the answer, once it arrived."""
        return None if self.answered_at is None else self.answered_at - self.sent_at

    def result(self, timeout: float = 10) -> Any:
        """The walker's answer (``{"status": 200, "reports": [...]}`` or an error message).

        Raises:
            TimeoutError: no answer within ``timeout`` seconds.
        """
        try:
            return self.future.result(timeout)
        except (TimeoutError, FutureTimeout):  # the same class from Python 3.11 on, not before
            raise TimeoutError(f"no answer to walker {self.walker} within {timeout} s") from None

    def done(self) -> bool:
        """Whether the answer arrived."""
        return self.future.done()


class Inbox:
    """One client's messages and sends, in order, and waiting for them.

    ``changed`` guards all of it (the client's state too) and is notified when a message has been
    delivered (every callback ran on it) or the state changed.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.changed = threading.Condition()
        self.received: list[Message] = []
        self.sent: list[Sent] = []
        self._consumed: set[int] = set()
        self._scan_from = 0  # every message before this index was returned by wait_for
        self._delivered = 0  # messages whose callbacks have run: what delivered() and wait_for see

    def receive(self, data: Any, received_at: float, cause: Cause | None) -> Message:
        """Keep a message just received (the caller holds ``changed``); delivered later."""
        message = Message(data, received_at, len(self.received), cause)
        self.received.append(message)
        return message

    def mark_delivered(self, message: Message) -> None:
        """Every callback has seen ``message``: waiters may now find it."""
        with self.changed:
            self._delivered = message.index + 1
            self.changed.notify_all()

    def delivered(self) -> list[Message]:
        """Every message delivered, in order."""
        with self.changed:
            return self.received[: self._delivered]

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float, since: int = 0) -> Any:
        """The data of the first delivered message matching ``predicate`` that no earlier call returned.

        Raises:
            JacWSError: called on the clients' own loop thread (it would wait for itself).
            TimeoutError: nothing matched within ``timeout`` seconds.
        """
        if threading.current_thread().name == "jacws-clients":
            raise JacWSError("wait_for would block the clients' own loop; call it from a cell or another thread")
        deadline = time.monotonic() + timeout
        position = since  # messages before this index were already checked by this call

        def find() -> Message | None:
            nonlocal position
            start = max(self._scan_from, position)
            for message in self.received[start : self._delivered]:
                if message.index not in self._consumed and _matches(predicate, message.data):
                    return message
            position = max(position, self._delivered)
            return None

        with self.changed:
            while True:
                found = find()
                if found is not None:
                    self._consumed.add(found.index)
                    while self._scan_from in self._consumed:
                        self._consumed.discard(self._scan_from)
                        self._scan_from += 1
                    return found.data
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self.name}: no matching message within {timeout} s")
                self.changed.wait(remaining)

    def wait_count(self, count: int, timeout: float) -> list[Message]:
        """Every delivered message, once there are at least ``count``.

        Raises:
            TimeoutError: fewer arrived within ``timeout`` seconds.
        """
        with self.changed:
            if not self.changed.wait_for(lambda: self._delivered >= count, timeout):
                raise TimeoutError(f"{self.name}: {self._delivered} of {count} messages after {timeout} s")
            return self.received[: self._delivered]


def _matches(predicate: Callable[[Any], bool], data: Any) -> bool:
    try:
        return bool(predicate(data))
    except (KeyError, TypeError, AttributeError, IndexError):
        return False

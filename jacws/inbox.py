"""What a simulated client keeps: the messages it received, the events it sent, its walker calls in flight."""

from __future__ import annotations

from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from .trace import Cause

__all__ = ["Message", "Sent", "WalkerCall"]


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

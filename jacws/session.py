"""A recorded session of simulated clients: what each did, in order, and what each action caused.

Built from the clients' own records (:attr:`Client.sent`, :attr:`Client.inbox`) and the
exact causes a server of this process attaches to every message (:mod:`jacws.trace`). A
*step* is one client action a replay can repeat: connecting (or reconnecting), or sending
one event. Every received message is the effect of one step, or *unexplained* (a REST call,
the server's own ``notify_*``, a client outside the session, a server in another process).
No I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .client import Client, Message

__all__ = ["Effect", "Recording", "Step", "record"]


class Step(NamedTuple):
    """One action: ``client`` connected (``event`` is None) or sent ``event``, at ``at`` (wall clock)."""

    at: float
    client: Client
    event: dict[str, Any] | None
    key: tuple[str, int]  # (trace key of the connection, frame number; 0 for connecting)

    @property
    def connects(self) -> bool:
        """Whether this step is the client connecting (the first time, or again)."""
        return self.event is None


class Effect(NamedTuple):
    """One message ``client`` received because of a step."""

    client: Client
    message: Message


@dataclass
class Recording:
    """A session's steps in time order, each one's effects, and what no step explains."""

    clients: list[Client]
    steps: list[Step] = field(default_factory=list)
    effects: dict[tuple[str, int], list[Effect]] = field(default_factory=dict)
    unexplained: list[Effect] = field(default_factory=list)

    def effects_of(self, step: Step) -> list[Effect]:
        """The messages ``step`` caused: client by client in session order, each in arrival order."""
        return self.effects.get(step.key, [])

    def counts(self, step: Step) -> dict[str, int]:
        """How many messages each client received because of ``step`` (clients that got none left out)."""
        counts: dict[str, int] = {}
        for effect in self.effects_of(step):
            counts[effect.client.name] = counts.get(effect.client.name, 0) + 1
        return counts


def record(clients: Sequence[Client]) -> Recording:
    """The recording of everything ``clients`` did and received so far.

    Clients are put in the order they first connected (a replay connects them in that order).
    """
    steps: dict[tuple[str, int], Step] = {}
    for client in clients:
        for sent in client.sent:
            if sent.connection is not None:
                key = (sent.connection, sent.number)
                steps[key] = Step(sent.sent_at, client, sent.event, key)
        for message in client.inbox:
            cause = message.cause
            if cause is not None and cause.trace_key is not None and cause.route == "connection" and cause.event == 0:
                key = (cause.trace_key, 0)
                steps[key] = Step(message.received_at, client, None, key)
    ordered = sorted(steps.values(), key=lambda step: step.at)
    first = {id(step.client): n for n, step in reversed(list(enumerate(ordered))) if step.connects}
    session = sorted(clients, key=lambda client: first.get(id(client), len(ordered)))
    recording = Recording(session, ordered)
    for client in session:
        for message in client.inbox:
            cause = message.cause
            step = steps.get((cause.trace_key, cause.event or 0)) if cause is not None and cause.trace_key else None
            if step is not None and cause is not None and cause.origin in ("client", "walker"):
                recording.effects.setdefault(step.key, []).append(Effect(client, message))
            else:
                recording.unexplained.append(Effect(client, message))
    return recording

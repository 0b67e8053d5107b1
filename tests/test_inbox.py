"""A client's inbox: messages seen only once delivered, each returned by wait_for once, waits bounded."""

from __future__ import annotations

import threading

import pytest
from support import TIMEOUT

from jacws.errors import JacWSError
from jacws.inbox import Inbox, Message


def _arrive(box: Inbox, data: object) -> Message:
    with box.changed:
        message = box.receive(data, 0.0, None)
    box.mark_delivered(message)
    return message


def test_a_message_is_seen_only_once_delivered() -> None:
    box = Inbox("a")
    with box.changed:
        message = box.receive({"type": "chat"}, 1.0, None)
    assert box.delivered() == []
    with pytest.raises(TimeoutError, match=r"a: no matching message within 0\.05 s"):
        box.wait_for(lambda m: m["type"] == "chat", 0.05)
    box.mark_delivered(message)
    assert box.delivered() == [message] and message.index == 0
    assert box.wait_for(lambda m: m["type"] == "chat", TIMEOUT) == {"type": "chat"}


def test_wait_for_returns_each_message_once_in_order_and_skips_before_since() -> None:
    box = Inbox("a")
    for n in range(4):
        _arrive(box, {"n": n})
    assert box.wait_for(lambda m: m["n"] % 2 == 1, TIMEOUT) == {"n": 1}
    assert box.wait_for(lambda m: m["n"] % 2 == 1, TIMEOUT) == {"n": 3}
    assert box.wait_for(lambda m: True, TIMEOUT, since=2) == {"n": 2}
    assert box.wait_for(lambda m: True, TIMEOUT) == {"n": 0}
    with pytest.raises(TimeoutError):
        box.wait_for(lambda m: m["missing"], 0.05)  # a predicate that raises KeyError matches nothing


def test_wait_for_wakes_when_a_message_arrives_from_another_thread() -> None:
    box = Inbox("a")
    ready = threading.Event()

    def later() -> None:
        ready.wait(TIMEOUT)
        _arrive(box, {"type": "late"})

    thread = threading.Thread(target=later)
    thread.start()
    ready.set()
    assert box.wait_for(lambda m: m["type"] == "late", TIMEOUT) == {"type": "late"}
    thread.join(TIMEOUT)


def test_wait_count_and_the_clients_own_thread() -> None:
    box = Inbox("b")
    _arrive(box, 1)
    with pytest.raises(TimeoutError, match=r"b: 1 of 2 messages after 0\.05 s"):
        box.wait_count(2, 0.05)
    _arrive(box, 2)
    assert [m.data for m in box.wait_count(2, TIMEOUT)] == [1, 2]
    failures: list[BaseException] = []

    def on_loop_thread() -> None:
        try:
            box.wait_for(lambda m: True, TIMEOUT)
        except JacWSError as error:
            failures.append(error)

    thread = threading.Thread(target=on_loop_thread, name="jacws-clients")
    thread.start()
    thread.join(TIMEOUT)
    assert len(failures) == 1 and "would block the clients' own loop" in str(failures[0])

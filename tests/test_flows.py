"""The words of the flow view: labels of arrows and of routes, whole messages cut at the limit."""

from __future__ import annotations

from jacws.flows import (
    TEXT_LIMIT,
    SendRecord,
    answer_label,
    answer_words,
    as_json,
    origin_words,
    plain_route,
    short_label,
)
from jacws.inbox import Message
from jacws.trace import Cause


def test_a_long_message_is_cut_at_the_limit_and_labels_prefer_the_type() -> None:
    text = as_json({"data": "x" * 5000})
    assert len(text) == TEXT_LIMIT and text.endswith("…")
    assert short_label({"type": "chat", "text": "hi"}) == "chat"
    assert short_label([1, 2, 3]) == "[1,2,3]" and short_label({"type": ""}) == '{"type":""}'


def test_answers_are_named_by_what_they_answer() -> None:
    response = Message({"status": 200, "reports": [1, 2]}, 0.0, 0)
    error = Message({"error": "no", "code": "forbidden"}, 0.0, 1)
    assert answer_label(response) == "reports (2)" and answer_label(error) == "error forbidden"
    assert plain_route(response).kind == "response" and plain_route(error).text == "error"
    assert plain_route(Message({"anything": 1}, 0.0, 2)).kind == "notification"
    walker = SendRecord(1, 0.0, "alice", {"type": "walker", "walker": "greet"})
    assert answer_words("response", walker) == "walker greet"
    assert answer_words("connection", None) == "on connecting"
    assert answer_words("error", SendRecord(2, 0.0, "alice", {"type": "channel"})) == "answer to channel"


def test_origins_name_the_walker_and_its_lane() -> None:
    assert origin_words(Cause("channel", "walker", walker="post"), "alice") == "walker post (alice)"
    assert origin_words(Cause("user", "rest", walker="dm"), None) == "REST walker dm"
    assert origin_words(Cause("user", "server"), None) == "server"

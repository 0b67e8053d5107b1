"""Parsing client frames, id formats and serialising server messages, without sockets."""

from __future__ import annotations

import re

import pytest

from jacws.errors import InvalidEvent
from jacws.protocol import (
    PUBLIC_ROOT_ID,
    ChangeUserEvent,
    ChannelEvent,
    ClientEvent,
    ConnectionEvent,
    EventError,
    UserEvent,
    WalkerEvent,
    connection_message,
    encode,
    new_client_id,
    new_node_id,
    normalize_node_id,
    parse_event,
    walker_response,
)

HEX = "0123456789abcdef01234567"


def test_ids_have_the_documented_forms() -> None:
    assert re.fullmatch(r"\d+:[0-9a-f]{32}", new_client_id())
    assert re.fullmatch(r"n::[0-9a-f]{24}", new_node_id())
    assert new_client_id() != new_client_id()


def test_root_ids_are_accepted_in_both_forms() -> None:
    assert normalize_node_id(HEX) == normalize_node_id("n::" + HEX) == "n::" + HEX
    assert normalize_node_id(PUBLIC_ROOT_ID) == PUBLIC_ROOT_ID
    for bad in ["n::short", "N::" + HEX, HEX + "0", 5, None]:
        with pytest.raises(ValueError):
            normalize_node_id(bad)


def test_every_event_type_parses_from_text_and_binary() -> None:
    assert parse_event('{"type": "connection"}') == ConnectionEvent()
    assert parse_event(b'{"type": "channel", "channel_ids": ["a", "a"], "data": {"x": 1}}') == ChannelEvent(
        ("a",), {"x": 1}
    )
    assert parse_event('{"type": "client", "client_ids": ["c"], "data": {}}') == ClientEvent(("c",), {})
    assert parse_event(f'{{"type": "user", "root_ids": ["{HEX}"], "data": {{}}}}') == UserEvent(("n::" + HEX,), {})
    assert parse_event('{"type": "change_user"}') == ChangeUserEvent(None)
    assert parse_event('{"type": "change_user", "token": "Bearer x"}') == ChangeUserEvent("Bearer x")
    assert parse_event('{"type": "walker", "walker": "w"}') == WalkerEvent("w", {}, False, None, None)
    walker = parse_event(
        f'{{"type": "walker", "walker": "w", "context": {{"a": 1}}, "response": true, '
        f'"node": "{HEX}", "id": 3, "x": 0}}'
    )
    assert walker == WalkerEvent("w", {"a": 1}, True, "n::" + HEX, 3)


@pytest.mark.parametrize(
    ("frame", "code", "kind", "locs"),
    [
        (b"\xff\xfe", "invalid_json", "error", None),
        ("nope", "invalid_json", "error", None),
        ("[]", "invalid_event", "error", [[]]),
        ('{"type": "x"}', "invalid_event", "error", [["type"]]),
        (
            '{"type": "walker", "walker": "", "response": "yes", "id": true}',
            "invalid_event",
            "walker",
            [["walker"], ["response"], ["id"]],
        ),
        ('{"type": "walker", "walker": "w", "node": "zz"}', "invalid_event", "walker", [["node"]]),
        (
            '{"type": "user", "root_ids": ["ok", 1], "data": []}',
            "invalid_event",
            "error",
            [["root_ids", 0], ["root_ids", 1], ["data"]],
        ),
    ],
)
def test_bad_frames_raise_event_errors_with_details(
    frame: str | bytes, code: str, kind: str, locs: list | None
) -> None:
    with pytest.raises(EventError) as caught:
        parse_event(frame)
    wire = caught.value.to_wire()
    assert wire["code"] == code and wire["type"] == kind
    if locs is not None:
        assert [d["loc"] for d in wire["details"]] == locs


def test_walker_errors_echo_a_valid_id() -> None:
    with pytest.raises(EventError) as caught:
        parse_event('{"type": "walker", "id": "abc"}')
    assert caught.value.to_wire()["id"] == "abc"


def test_id_limit_raises_too_large() -> None:
    with pytest.raises(EventError) as caught:
        parse_event('{"type": "channel", "channel_ids": ["a", "b", "c"], "data": {}}', max_ids=2)
    assert caught.value.to_wire()["code"] == "too_large"


def test_server_messages_have_the_wire_shapes() -> None:
    assert connection_message("c", "r", "ch") == {
        "type": "connection",
        "data": {"client_id": "c", "root_id": "r", "channel_id": "ch"},
    }
    assert walker_response([1]) == {"status": 200, "reports": [1]}
    assert walker_response([], "q") == {"status": 200, "reports": [], "id": "q"}
    error = InvalidEvent("bad", [{"loc": ["x"], "msg": "m"}])
    assert error.to_wire("walker", 4) == {
        "type": "walker",
        "error": "bad",
        "code": "invalid_event",
        "details": [{"loc": ["x"], "msg": "m"}],
        "id": 4,
    }


def test_encode_serialises_sets_and_refuses_unknown_objects() -> None:
    assert encode({"a": (1, 2), "b": {3}}) == b'{"a":[1,2],"b":[3]}'
    with pytest.raises(TypeError):
        encode({"x": object()})


def test_too_deep_counts_only_brackets_outside_strings() -> None:
    from jacws.protocol import too_deep

    assert not too_deep("[" * 5 + "]" * 5, limit=5) and too_deep("[" * 6 + "]" * 6, limit=5)
    assert not too_deep('["[[[[[[[[[[\\"[[[["]', limit=2)  # brackets and an escaped quote inside a string
    assert too_deep(b'{"a": {"b": {"c": [1]}}}', limit=3) and not too_deep(b'{"a": {"b": {"c": [1]}}}', limit=4)


def test_join_and_leave_parse_with_their_id_and_errors_echo_it() -> None:
    from jacws.protocol import JoinEvent, LeaveEvent, channels_message

    assert parse_event('{"type": "join", "channel_ids": ["a", "b", "a"], "id": 3}') == JoinEvent(("a", "b"), 3)
    assert parse_event(b'{"type": "leave", "channel_ids": ["a"]}') == LeaveEvent(("a",), None)
    with pytest.raises(EventError) as caught:
        parse_event('{"type": "join", "channel_ids": [], "id": "q"}')
    wire = caught.value.to_wire()
    assert wire["type"] == "error" and wire["code"] == "invalid_event" and wire["id"] == "q"
    assert channels_message(("a",), 5) == {"type": "channels", "channel_ids": ["a"], "id": 5}
    assert channels_message([]) == {"type": "channels", "channel_ids": []}

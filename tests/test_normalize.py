"""Placeholders for what differs between two runs of a session (jacws.normalize)."""

from __future__ import annotations

import jwt
import pytest

from jacws.normalize import Normalizer, token_email
from jacws.protocol import PUBLIC_ROOT_ID

SECRET = "a test secret of at least thirty-two bytes"
ALICE = {"client_id": "1796300000:" + "a" * 32, "root_id": "n::" + "1" * 24, "channel_id": "lobby"}


def test_a_clients_ids_become_its_names_and_the_public_root_stays() -> None:
    norm = Normalizer()
    norm.connection("alice", "alice@example.com", "lobby", ALICE)
    guest = {"client_id": "1796300000:" + "b" * 32, "root_id": PUBLIC_ROOT_ID, "channel_id": "1796300000:" + "c" * 32}
    norm.connection("guest", None, None, guest)
    assert norm.received({"type": "connection", "data": ALICE}) == {
        "type": "connection",
        "data": {"client_id": "<client alice>", "root_id": "<root alice@example.com>", "channel_id": "lobby"},
    }
    assert norm.received(guest) == {
        "client_id": "<client guest>",
        "root_id": PUBLIC_ROOT_ID,
        "channel_id": "<channel guest>",
    }
    again = {**ALICE, "client_id": "1796300001:" + "d" * 32}
    norm.connection("alice", "alice@example.com", "lobby", again)
    assert norm.received(again)["client_id"] == "<client alice #2>"


def test_nodes_and_edges_are_numbered_by_first_appearance_wherever_they_are() -> None:
    norm = Normalizer()
    first, second, edge = "n::" + "e" * 24, "n::" + "f" * 32, "e::" + "0" * 24
    report = {"reports": [{"id": second}, {"id": first, "note": f"linked from {second} by {edge}"}]}
    assert norm.received(report) == {
        "reports": [{"id": "<node 1>"}, {"id": "<node 2>", "note": "linked from <node 1> by <edge 1>"}]
    }
    assert norm.received({first: 1}) == {"<node 2>": 1}  # keys too, and the same name the next time


def test_a_sent_event_names_only_what_was_received_before() -> None:
    norm = Normalizer()
    known, unknown = "n::" + "1" * 24, "n::" + "2" * 24
    norm.received({"id": known})
    assert norm.sent({"node": known, "other": unknown}) == {"node": "<node 1>", "other": unknown}


def test_tokens_and_clock_readings_are_normalised_but_other_numbers_are_kept() -> None:
    norm = Normalizer()
    token = jwt.encode({"email": "carol@example.com", "sub": "x"}, SECRET, algorithm="HS256")
    assert norm.sent({"token": f"Bearer {token}"}) == {"token": "Bearer <token carol@example.com>"}
    data = {"at": 1796300000.25, "ms": 1796300000250, "when": "2026-12-03T12:00:00Z", "count": 3, "big": 10**15}
    assert norm.received(data) == {"at": "<time>", "ms": "<time>", "when": "<time>", "count": 3, "big": 10**15}
    assert norm.received([True, None, 1.5]) == [True, None, 1.5]


def test_token_email_reads_the_claim_and_says_none_for_anything_else() -> None:
    token = jwt.encode({"email": "dave@example.com"}, SECRET, algorithm="HS256")
    assert token_email(token) == token_email(f"Bearer {token}") == "dave@example.com"
    assert token_email("not a token") is None and token_email(None) is None
    assert token_email(jwt.encode({"sub": "x"}, SECRET, algorithm="HS256")) is None


def test_resolve_turns_placeholders_into_this_runs_values() -> None:
    norm = Normalizer()
    norm.connection("alice", "alice@example.com", "lobby", ALICE)
    norm.received({"id": "n::" + "9" * 24})
    event = {
        "type": "user",
        "root_ids": ["<root alice@example.com>"],
        "data": {"node": "<node 1>", "id": "<call 3>", "token": "Bearer <token bob@example.com>"},
    }
    resolved = norm.resolve(event, lambda email: f"token-of-{email}")
    assert resolved == {
        "type": "user",
        "root_ids": [ALICE["root_id"]],
        "data": {"node": "n::" + "9" * 24, "id": "<call 3>", "token": "Bearer token-of-bob@example.com"},
    }
    with pytest.raises(KeyError, match="<node 2> was not received"):
        norm.resolve({"node": "<node 2>"}, lambda email: "")

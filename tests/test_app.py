"""The socket and REST endpoints over real sockets: every client event, delivery rule and error."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest
from support import TIMEOUT, WS, quiet
from websockets.exceptions import ConnectionClosed

from jacws.protocol import PUBLIC_ROOT_ID
from jacws.server import Server
from jacws.settings import Settings

JSON = {"Content-Type": "application/json"}


def token(users: dict[str, Any], name: str) -> str:
    return str(users[name]["token"])


def root(users: dict[str, Any], name: str) -> str:
    return "n::" + users[name]["user"]["root_id"]


# -- connecting ---------------------------------------------------------------------------


def test_anonymous_connection_gets_public_root_and_random_channel(server: Server) -> None:
    with WS(server.ws_url) as ws:
        assert ws.root_id == PUBLIC_ROOT_ID
        client_time, client_hex = ws.client_id.split(":")
        assert client_time.isdigit() and len(client_hex) == 32
        assert ws.channel_id != ws.client_id and len(ws.channel_id.split(":")[1]) == 32
        quiet(ws)


def test_bearer_header_connects_as_the_user_on_the_requested_channel(server: Server, users: dict[str, Any]) -> None:
    with WS(server.ws_url, token=token(users, "alice"), channel_id="lobby") as ws:
        assert ws.root_id == root(users, "alice")
        assert ws.channel_id == "lobby"


@pytest.mark.parametrize("bad", ["garbage", "a.b.c", ""])
def test_malformed_token_connects_anonymously(server: Server, bad: str) -> None:
    with WS(server.ws_url, token=bad or None) as ws:
        assert ws.root_id == PUBLIC_ROOT_ID


def test_forged_and_alg_none_tokens_connect_anonymously(server: Server, users: dict[str, Any]) -> None:
    claims = jwt.decode(token(users, "alice"), options={"verify_signature": False})
    forged = jwt.encode(claims, "another-secret-that-is-long-enough-32b", algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    for bad in (forged, unsigned):
        with WS(server.ws_url, token=bad) as ws:
            assert ws.root_id == PUBLIC_ROOT_ID


def test_connection_event_resends_the_same_info(server: Server) -> None:
    with WS(server.ws_url, channel_id="c1") as ws:
        ws.send({"type": "connection"})
        assert ws.recv() == {"type": "connection", "data": ws.info}


# -- user, channel and client events ----------------------------------------------------------


def test_user_event_reaches_every_connection_of_the_user_and_no_one_else(server: Server, users: dict[str, Any]) -> None:
    with (
        WS(server.ws_url, token=token(users, "bob")) as bob1,
        WS(server.ws_url, token=token(users, "bob")) as bob2,
        WS(server.ws_url, token=token(users, "carol")) as carol,
        WS(server.ws_url) as sender,
    ):
        sender.send({"type": "user", "root_ids": [root(users, "bob")], "data": {"type": "chat", "n": 1}})
        assert bob1.recv() == {"type": "chat", "n": 1}
        assert bob2.recv() == {"type": "chat", "n": 1}
        quiet(sender, bob1, bob2, carol)


def test_user_event_accepts_the_bare_hex_root_id(server: Server, users: dict[str, Any]) -> None:
    with WS(server.ws_url, token=token(users, "bob")) as bob, WS(server.ws_url) as sender:
        sender.send({"type": "user", "root_ids": [users["bob"]["user"]["root_id"]], "data": {"x": 1}})
        assert bob.recv() == {"x": 1}


def test_channel_event_reaches_every_subscriber_including_the_sender(server: Server) -> None:
    with (
        WS(server.ws_url, channel_id="room-a") as a1,
        WS(server.ws_url, channel_id="room-a") as a2,
        WS(server.ws_url, channel_id="room-b") as b,
    ):
        a1.send({"type": "channel", "channel_ids": ["room-a"], "data": {"type": "chat", "text": "hi"}})
        assert a1.recv() == {"type": "chat", "text": "hi"}
        assert a2.recv() == {"type": "chat", "text": "hi"}
        quiet(a1, a2, b)


def test_client_event_reaches_only_the_named_connections(server: Server) -> None:
    with WS(server.ws_url) as a, WS(server.ws_url) as b, WS(server.ws_url) as c:
        a.send({"type": "client", "client_ids": [b.client_id, c.client_id], "data": {"direct": True}})
        assert b.recv() == {"direct": True}
        assert c.recv() == {"direct": True}
        quiet(a, b, c)


def test_duplicate_and_overlapping_targets_are_delivered_once(server: Server, users: dict[str, Any]) -> None:
    with WS(server.ws_url, token=token(users, "bob"), channel_id="dup") as bob, WS(server.ws_url) as sender:
        sender.send({"type": "client", "client_ids": [bob.client_id, bob.client_id], "data": {"n": 1}})
        sender.send({"type": "channel", "channel_ids": ["dup", "dup"], "data": {"n": 2}})
        bob_root = root(users, "bob")
        sender.send({"type": "user", "root_ids": [bob_root, bob_root.removeprefix("n::")], "data": {"n": 3}})
        assert [bob.recv(), bob.recv(), bob.recv()] == [{"n": 1}, {"n": 2}, {"n": 3}]
        quiet(sender, bob)


def test_unknown_targets_are_skipped_silently_and_the_rest_delivered(server: Server) -> None:
    with WS(server.ws_url, channel_id="real") as real, WS(server.ws_url) as sender:
        sender.send({"type": "channel", "channel_ids": ["nobody-here", "real"], "data": {"ok": 1}})
        sender.send({"type": "client", "client_ids": ["1:gone", real.client_id], "data": {"ok": 2}})
        sender.send({"type": "user", "root_ids": ["n::" + "ab" * 12], "data": {"ok": 3}})
        assert real.recv() == {"ok": 1}
        assert real.recv() == {"ok": 2}
        quiet(sender, real)


def test_messages_from_one_sender_arrive_in_order(server: Server) -> None:
    with WS(server.ws_url) as sender, WS(server.ws_url, channel_id="order") as receiver:
        for n in range(300):
            sender.send({"type": "channel", "channel_ids": ["order"], "data": {"n": n}})
        assert [receiver.recv()["n"] for _ in range(300)] == list(range(300))


def test_user_event_to_the_public_root_is_forbidden(server: Server) -> None:
    with WS(server.ws_url) as sender, WS(server.ws_url) as anonymous:
        sender.send({"type": "user", "root_ids": [PUBLIC_ROOT_ID], "data": {"spam": True}})
        error = sender.recv()
        assert error["code"] == "forbidden" and error["type"] == "error"
        quiet(anonymous, sender)


def test_binary_frames_holding_json_are_handled_like_text(server: Server) -> None:
    with WS(server.ws_url, channel_id="bin") as ws:
        ws.ws.send(b'{"type": "channel", "channel_ids": ["bin"], "data": {"b": 1}}')
        assert ws.recv() == {"b": 1}


# -- change_user --------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["Bearer ", "bearer ", ""])
def test_change_user_switches_identity_and_keeps_client_and_channel(
    server: Server, users: dict[str, Any], prefix: str
) -> None:
    with WS(server.ws_url, channel_id="cu") as ws:
        ws.send({"type": "change_user", "token": prefix + token(users, "alice")})
        event = ws.recv()
        assert event == {
            "type": "connection",
            "data": {"client_id": ws.client_id, "root_id": root(users, "alice"), "channel_id": "cu"},
        }
        ws.send({"type": "change_user"})
        assert ws.recv()["data"]["root_id"] == PUBLIC_ROOT_ID


def test_change_user_moves_user_event_delivery(server: Server, users: dict[str, Any]) -> None:
    with WS(server.ws_url) as ws, WS(server.ws_url) as sender:
        ws.send({"type": "change_user", "token": token(users, "carol")})
        ws.recv()
        sender.send({"type": "user", "root_ids": [root(users, "carol")], "data": {"to": "carol"}})
        assert ws.recv() == {"to": "carol"}
        ws.send({"type": "change_user", "token": "not-a-token"})
        assert ws.recv()["data"]["root_id"] == PUBLIC_ROOT_ID
        sender.send({"type": "user", "root_ids": [root(users, "carol")], "data": {"to": "carol again"}})
        quiet(sender, ws)


# -- walkers over the socket ----------------------------------------------------------------------


@pytest.mark.twin
def test_walker_with_response_true_answers_reports_and_echoes_id(server: Server) -> None:
    with WS(server.ws_url) as ws:
        ws.walker("t_echo", request_id="req-1", value="7", label="seven")
        assert ws.recv() == {"status": 200, "reports": [{"value": 7, "label": "seven"}], "id": "req-1"}
        ws.walker("t_echo", value=1)
        assert ws.recv() == {"status": 200, "reports": [{"value": 1, "label": "x"}]}


@pytest.mark.twin
def test_walker_with_response_false_sends_nothing_but_its_notifications(server: Server) -> None:
    with WS(server.ws_url) as ws:
        ws.walker("t_echo", response=False, value=1)
        ws.walker("t_progress", response=False, steps=2)
        assert ws.recv() == {"progress": "0", "status": "inprogress"}
        assert ws.recv() == {"progress": "1", "status": "inprogress"}
        ws.walker("t_echo", request_id=9, value=2)  # walkers run in order: this answer is next
        assert ws.recv()["id"] == 9
        quiet(ws)


@pytest.mark.parametrize("walker", [pytest.param("t_progress", marks=pytest.mark.twin), "t_async_progress"])
def test_notify_self_messages_arrive_before_the_response(server: Server, walker: str) -> None:
    with WS(server.ws_url) as ws:
        ws.walker(walker, steps=5)
        received = [ws.recv() for _ in range(6)]
        assert received[:5] == [{"progress": str(i), "status": "inprogress"} for i in range(5)]
        assert received[5] == {"status": 200, "reports": ["done"]}


def test_walker_runs_on_the_callers_root(server: Server, users: dict[str, Any]) -> None:
    with WS(server.ws_url, token=token(users, "bob")) as bob, WS(server.ws_url) as anonymous:
        assert bob.call("t_whoami")["reports"] == [root(users, "bob")]
        assert anonymous.call("t_whoami")["reports"] == [PUBLIC_ROOT_ID]


@pytest.mark.twin
def test_auth_walker_refuses_anonymous_and_accepts_users(server: Server, users: dict[str, Any]) -> None:
    with WS(server.ws_url) as anonymous, WS(server.ws_url, token=token(users, "alice")) as alice:
        anonymous.walker("t_private_note", request_id="a")
        assert anonymous.recv() == {
            "type": "walker",
            "error": "walker t_private_note requires a logged-in user",
            "code": "auth_required",
            "id": "a",
        }
        answer = alice.call("t_private_note", text="hello")
        assert answer["status"] == 200
        (note,) = answer["reports"]
        assert note["context"] == {"text": "hello", "likes": 0} and note["id"].startswith("n::")


@pytest.mark.twin
def test_auth_false_walker_accepts_logged_in_sockets(server: Server, users: dict[str, Any]) -> None:
    with WS(server.ws_url, token=token(users, "alice")) as alice:
        assert alice.call("t_echo", value=3)["status"] == 200


@pytest.mark.parametrize("name", ["no_such_walker", "t_rest_only"])
def test_unknown_and_rest_only_walkers_answer_unknown_walker(server: Server, name: str) -> None:
    with WS(server.ws_url) as ws:
        ws.walker(name, request_id=5)
        error = ws.recv()
        assert error["code"] == "unknown_walker" and error["type"] == "walker" and error["id"] == 5
        ws.barrier()  # still usable


@pytest.mark.twin
def test_walker_field_errors_name_the_field(server: Server) -> None:
    with WS(server.ws_url) as ws:
        ws.walker("t_echo", request_id=1, label="no value")
        missing = ws.recv()
        assert missing["code"] == "invalid_event" and missing["type"] == "walker" and missing["id"] == 1
        assert missing["details"][0]["loc"] == ["value"]
        ws.walker("t_echo", value="not a number")
        wrong = ws.recv()
        assert wrong["details"][0]["loc"] == ["value"] and "value" in wrong["error"]


@pytest.mark.twin
def test_walker_that_raises_answers_walker_error_without_traceback(server: Server) -> None:
    with WS(server.ws_url) as ws, WS(server.ws_url) as bystander:
        ws.walker("t_boom", request_id="b")
        error = ws.recv()
        assert error == {
            "type": "walker",
            "error": "walker t_boom failed: ValueError",
            "code": "walker_error",
            "id": "b",
        }
        ws.barrier()
        quiet(bystander)


def test_unserialisable_report_is_a_walker_error(server: Server) -> None:
    with WS(server.ws_url) as ws:
        assert ws.call("t_bad_report")["code"] == "walker_error"


def test_sync_abilities_run_in_worker_threads_and_async_ones_on_the_loop(server: Server) -> None:
    with WS(server.ws_url) as ws:
        plain, coroutine = ws.call("t_threads")["reports"]
        assert plain.startswith("jacws-walker")
        assert coroutine.startswith("jacws-server")


def test_walkers_traverse_visit_and_disengage(server: Server, users: dict[str, Any]) -> None:
    with WS(server.ws_url, token=token(users, "carol")) as ws:
        reports = ws.call("t_tour", texts=["a", "b", "stop", "c"])["reports"]
        assert reports == ["exit Root", "enter a", "exit Note", "enter b", "exit Note", "enter stop"]


def test_walker_on_a_node_of_the_callers_graph_and_forbidden_on_another(server: Server, users: dict[str, Any]) -> None:
    with WS(server.ws_url, token=token(users, "alice")) as alice, WS(server.ws_url, token=token(users, "bob")) as bob:
        note_id = alice.call("t_private_note", text="likeable")["reports"][0]["id"]
        alice.send({"type": "walker", "walker": "t_like", "node": note_id, "response": True})
        assert alice.recv()["reports"][0]["context"]["likes"] == 1
        alice.send({"type": "walker", "walker": "t_like", "node": note_id.removeprefix("n::"), "response": True})
        assert alice.recv()["reports"][0]["context"]["likes"] == 2
        bob.send({"type": "walker", "walker": "t_like", "node": note_id, "response": True, "id": "steal"})
        assert bob.recv() == {
            "type": "walker",
            "error": f"no access to node {note_id}",
            "code": "forbidden",
            "id": "steal",
        }
        bob.send({"type": "walker", "walker": "t_like", "node": "not-a-node", "response": True})
        assert bob.recv()["code"] == "invalid_event"


def test_walker_defined_while_the_server_runs_is_live_and_redefinition_replaces_it(server: Server) -> None:
    from jacws import Root, Walker, on_entry

    class t_late(Walker):
        class __specs__:
            methods = ["websocket"]
            auth = False

        @on_entry(Root)
        def enter(self, here: Root) -> None:
            self.report("first")

    with WS(server.ws_url) as ws:
        assert ws.call("t_late")["reports"] == ["first"]

        class t_late(Walker):  # type: ignore[no-redef]
            class __specs__:
                methods = ["websocket"]
                auth = False

            @on_entry(Root)
            def enter(self, here: Root) -> None:
                self.report("second")

        assert ws.call("t_late")["reports"] == ["second"]


# -- notify from walkers ----------------------------------------------------------------------------


@pytest.mark.parametrize("walker", [pytest.param("t_notify", marks=pytest.mark.twin), "t_async_notify"])
def test_walker_notify_calls_reach_users_channels_and_clients(
    server: Server, users: dict[str, Any], walker: str
) -> None:
    with (
        WS(server.ws_url, token=token(users, "bob"), channel_id="n-room") as bob,
        WS(server.ws_url, channel_id="n-room") as guest,
        WS(server.ws_url) as caller,
    ):
        caller.walker(walker, kind="users", ids=[root(users, "bob")], data={"to": "users"})
        assert caller.recv() == {"status": 200, "reports": ["notified"]}
        assert bob.recv() == {"to": "users"}
        caller.walker(walker, kind="channels", ids=["n-room"], data={"to": "channel"})
        caller.recv()
        assert bob.recv() == {"to": "channel"} and guest.recv() == {"to": "channel"}
        caller.walker(walker, kind="clients", ids=[guest.client_id, guest.client_id], data={"to": "client"})
        caller.recv()
        assert guest.recv() == {"to": "client"}
        quiet(bob, guest, caller)


@pytest.mark.twin
def test_notify_users_with_a_malformed_id_is_a_walker_error_naming_it(server: Server) -> None:
    with WS(server.ws_url) as ws:
        answer = ws.call("t_notify", kind="users", ids=["n::nope"], data={})
        assert answer["code"] == "walker_error" and "n::nope" in answer["error"]


def test_server_handle_notifies_from_outside_walkers(server: Server, users: dict[str, Any]) -> None:
    with WS(server.ws_url, token=token(users, "carol"), channel_id="outside") as ws:
        server.notify_channels(["outside"], {"from": "cell", "n": 1})
        server.notify_users([root(users, "carol")], {"from": "cell", "n": 2})
        server.notify_clients([ws.client_id], {"from": "cell", "n": 3})
        assert [ws.recv()["n"] for _ in range(3)] == [1, 2, 3]


# -- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code", "loc"),
    [
        ("{not json", "invalid_json", None),
        ("[1, 2]", "invalid_event", []),
        ('"text"', "invalid_event", []),
        ('{"type": "dance"}', "invalid_event", ["type"]),
        ("{}", "invalid_event", ["type"]),
        ('{"type": "channel", "data": {}}', "invalid_event", ["channel_ids"]),
        ('{"type": "channel", "channel_ids": [], "data": {}}', "invalid_event", ["channel_ids"]),
        ('{"type": "channel", "channel_ids": "room", "data": {}}', "invalid_event", ["channel_ids"]),
        ('{"type": "client", "client_ids": [1], "data": {}}', "invalid_event", ["client_ids", 0]),
        ('{"type": "user", "root_ids": ["n::bad"], "data": {}}', "invalid_event", ["root_ids", 0]),
        ('{"type": "user", "root_ids": [], "data": {}}', "invalid_event", ["root_ids"]),
        ('{"type": "channel", "channel_ids": ["r"]}', "invalid_event", ["data"]),
        ('{"type": "channel", "channel_ids": ["r"], "data": 5}', "invalid_event", ["data"]),
        ('{"type": "change_user", "token": 5}', "invalid_event", ["token"]),
    ],
)
def test_bad_events_get_the_documented_error_and_the_connection_stays_usable(
    server: Server, frame: str, code: str, loc: list[Any] | None
) -> None:
    with WS(server.ws_url, channel_id="r") as ws, WS(server.ws_url, channel_id="r") as bystander:
        ws.ws.send(frame)
        error = ws.recv()
        assert error["type"] == "error" and error["code"] == code and isinstance(error["error"], str)
        if loc is not None:
            assert error["details"][0]["loc"] == loc
        ws.barrier()
        quiet(bystander)


def test_walker_event_errors_have_type_walker(server: Server) -> None:
    with WS(server.ws_url) as ws:
        ws.send({"type": "walker", "id": "x", "context": []})
        error = ws.recv()
        assert error["type"] == "walker" and error["code"] == "invalid_event" and error["id"] == "x"
        assert {tuple(d["loc"]) for d in error["details"]} == {("walker",), ("context",)}


def test_too_many_ids_answers_too_large(server: Server) -> None:
    with WS(server.ws_url) as ws:
        ws.send({"type": "client", "client_ids": [f"id{i}" for i in range(1001)], "data": {}})
        assert ws.recv()["code"] == "too_large"
        ws.barrier()


def test_frame_over_the_size_limit_closes_with_1009(server: Server) -> None:
    with WS(server.ws_url) as ws, WS(server.ws_url) as bystander:
        ws.ws.send('{"type": "connection", "pad": "' + "x" * (1 << 20) + '"}')
        with pytest.raises(ConnectionClosed):
            ws.recv()
        assert ws.ws.close_code == 1009
        bystander.barrier()


@pytest.mark.twin
def test_no_error_message_carries_a_traceback_or_path(server: Server) -> None:
    frames = ["{", "[]", '{"type": 1}', '{"type": "walker", "walker": "t_boom", "response": true}']
    with WS(server.ws_url) as ws:
        for frame in frames:
            ws.ws.send(frame)
            text = ws.ws.recv(timeout=TIMEOUT)
            assert "Traceback" not in text and "/srv/" not in text and ".py" not in text


# -- REST ---------------------------------------------------------------------------------------------


def test_register_login_and_duplicate_and_malformed_registrations(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        created = http.post("/user/register", json={"email": "dave@example.com", "password": "dave-pass"})
        assert created.status_code == 201 and created.json() == {"message": "Successfully Registered!"}
        assert (
            http.post("/user/register", json={"email": "Dave@example.com", "password": "other-pass"}).status_code == 409
        )
        assert http.post("/user/register", json={"email": "not-an-email", "password": "dave-pass"}).status_code == 422
        assert http.post("/user/register", json={"email": "e@example.com", "password": ""}).status_code == 422
        login = http.post("/user/login", json={"email": "dave@example.com", "password": "dave-pass"})
        body = login.json()
        assert login.status_code == 200 and body["user"]["email"] == "dave@example.com"
        assert len(body["user"]["root_id"]) == 24 and not body["user"]["root_id"].startswith("n::")
        wrong = http.post("/user/login", json={"email": "dave@example.com", "password": "nope"})
        assert wrong.status_code == 400 and wrong.json()["message"] == "Invalid Email/Password!"
        unknown = http.post("/user/login", json={"email": "nobody@example.com", "password": "dave-pass"})
        assert unknown.status_code == 400


@pytest.mark.twin
def test_rest_walker_call_validates_fields_and_serves_only_listed_methods(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        assert http.post("/walker/t_echo", json={"value": 4}).json() == {
            "status": 200,
            "reports": [{"value": 4, "label": "x"}],
        }
        assert http.get("/walker/t_echo", params={"value": "5"}).json()["reports"] == [{"value": 5, "label": "x"}]
        bad = http.post("/walker/t_echo", json={"value": "x"})
        assert bad.status_code == 422 and bad.json()["details"][0]["loc"] == ["value"]
        assert http.put("/walker/t_echo", json={"value": 1}).status_code == 405
        assert http.post("/walker/t_rest_only").json()["reports"] == ["rest"]
        assert http.post("/walker/t_slow", json={}).status_code == 404  # websocket only
        assert http.post("/walker/no_such").status_code == 404
        assert http.post("/walker/t_echo", content=b"{oops", headers=JSON).status_code == 422


def test_rest_auth_walker_needs_a_valid_token(server: Server, users: dict[str, Any]) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        assert http.post("/walker/t_notes").status_code == 401
        assert http.post("/walker/t_notes", headers={"Authorization": "Bearer forged"}).status_code == 401
        ok = http.post("/walker/t_notes", headers={"Authorization": f"Bearer {token(users, 'alice')}"})
        assert ok.status_code == 200


def test_rest_walker_on_a_node_and_forbidden_on_another_users_node(server: Server, users: dict[str, Any]) -> None:
    alice = {"Authorization": f"Bearer {token(users, 'alice')}"}
    bob = {"Authorization": f"Bearer {token(users, 'bob')}"}
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        note = http.post("/walker/t_private_note", json={"text": "rest"}, headers=alice).json()["reports"][0]
        liked = http.post(f"/walker/t_like/{note['id']}", headers=alice)
        assert liked.json()["reports"][0]["context"] == {"text": "rest", "likes": 1}
        stolen = http.post(f"/walker/t_like/{note['id']}", headers=bob)
        assert stolen.status_code == 403 and stolen.json()["code"] == "forbidden"


@pytest.mark.twin
def test_rest_walker_notifies_sockets_and_notify_self_is_a_no_op(server: Server) -> None:
    with WS(server.ws_url, channel_id="rest-room") as ws, httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        answer = http.post("/walker/t_notify", json={"kind": "channels", "ids": ["rest-room"], "data": {"via": "rest"}})
        assert answer.json() == {"status": 200, "reports": ["notified"]}
        assert ws.recv() == {"via": "rest"}
        assert http.post("/walker/t_progress", json={"steps": 3}).json() == {"status": 200, "reports": ["done"]}
        quiet(ws)


@pytest.mark.twin
def test_rest_walker_that_raises_has_no_traceback(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        answer = http.post("/walker/t_boom")
        assert answer.status_code == 500
        assert answer.json() == {"type": "walker", "error": "walker t_boom failed: ValueError", "code": "walker_error"}


@pytest.mark.twin
def test_walker_catalogue_lists_served_walkers_with_typed_fields(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        walkers = {w["name"]: w for w in http.get("/walkers").json()["walkers"]}
    echo = walkers["t_echo"]
    assert echo["methods"] == ["websocket", "post", "get"] and echo["auth"] is False and echo["websocket"] is True
    assert echo["fields"][0] == {
        "name": "value",
        "type": "int",
        "required": True,
        "schema": {"title": "Value", "type": "integer"},
    }
    assert echo["fields"][1]["default"] == "x" and echo["fields"][1]["required"] is False
    assert walkers["send_chat_to_user"]["auth"] is True
    assert walkers["send_chat_to_user"]["fields"][0]["name"] == "root_id"
    assert walkers["t_notify"]["fields"][1]["type"] == "list[str]"


def test_healthz(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        answer = http.get("/healthz")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"


def test_logout_revokes_the_token_for_rest_new_sockets_and_open_sockets(server: Server) -> None:
    from support import register_and_login

    login = register_and_login(server.url, "leaving@example.com")
    bearer = {"Authorization": f"Bearer {login['token']}"}
    with WS(server.ws_url, token=login["token"], channel_id="bye") as open_socket:
        assert open_socket.root_id != PUBLIC_ROOT_ID
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
            assert http.post("/user/logout", headers=bearer).status_code == 200
            assert open_socket.recv() == {
                "type": "connection",
                "data": {"client_id": open_socket.client_id, "root_id": PUBLIC_ROOT_ID, "channel_id": "bye"},
            }
            assert http.post("/walker/t_notes", headers=bearer).status_code == 401
            assert http.post("/user/logout", headers=bearer).status_code == 401
        with WS(server.ws_url, token=login["token"]) as again:
            assert again.root_id == PUBLIC_ROOT_ID
        open_socket.send({"type": "change_user", "token": login["token"]})
        assert open_socket.recv()["data"]["root_id"] == PUBLIC_ROOT_ID


def test_expired_tokens_are_anonymous_on_connect_and_refused_on_rest() -> None:
    from support import register_and_login

    with Server(Settings(port=0, token_lifetime=-1)).start() as expired_server:
        login = register_and_login(expired_server.url, "late@example.com")
        with WS(expired_server.ws_url, token=login["token"]) as ws:
            assert ws.root_id == PUBLIC_ROOT_ID
            ws.send({"type": "change_user", "token": login["token"]})
            assert ws.recv()["data"]["root_id"] == PUBLIC_ROOT_ID
        with httpx.Client(base_url=expired_server.url, timeout=TIMEOUT) as http:
            headers = {"Authorization": f"Bearer {login['token']}"}
            refused = http.post("/walker/t_echo", json={"value": 1}, headers=headers)
            assert refused.status_code == 401 and refused.json()["error"] == "invalid token: token expired"


def test_rest_walkers_take_query_fields_and_path_parameters(server: Server) -> None:
    from jacws import Root, Walker, on_entry

    class t_routed(Walker):
        item: str
        page: int = 1
        note: str = ""

        class __specs__:
            methods = ["post"]
            auth = False
            path = "/items/{item}"
            as_query = ["page"]

        @on_entry(Root)
        def enter(self, here: Root) -> None:
            self.report(self.fields)

    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        answer = http.post("/walker/t_routed/items/book", params={"page": "3"}, json={"note": "n"})
        assert answer.json()["reports"] == [{"item": "book", "page": 3, "note": "n"}]
        assert http.post("/walker/t_routed/elsewhere/book").status_code == 404


def test_the_app_works_over_plain_asgi_without_jacws_extensions() -> None:
    """Under a websocket protocol without jacws's scope extensions, the queued ASGI path carries everything."""
    import threading

    from jacws.runtime import build
    from jacws.server import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    uv = build(Settings(port=0), ws="websockets-sansio")
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert uv.ready.wait(TIMEOUT)
        url = f"ws://127.0.0.1:{sock.getsockname()[1]}/websocket"
        with WS(url, channel_id="plain") as a, WS(url, channel_id="plain") as b:
            a.send({"type": "channel", "channel_ids": ["plain"], "data": {"via": "asgi"}})
            assert a.recv() == {"via": "asgi"} and b.recv() == {"via": "asgi"}
            assert a.call("t_echo", value=2)["reports"] == [{"value": 2, "label": "x"}]
            a.ws.send("{bad")
            assert a.recv()["code"] == "invalid_json"
    finally:
        uv.should_exit = True
        thread.join(TIMEOUT)
    assert not thread.is_alive()


def test_a_context_naming_self_is_just_an_unknown_field_and_the_socket_goes_on(server: Server) -> None:
    with WS(server.ws_url) as ws:
        ws.send({"type": "walker", "walker": "t_echo", "context": {"self": 1, "value": 3}, "response": True})
        assert ws.recv() == {"status": 200, "reports": [{"value": 3, "label": "x"}]}
        assert ws.call("t_echo", value=4)["reports"] == [{"value": 4, "label": "x"}]

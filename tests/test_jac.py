"""Jac walkers (the jac extra, Python 3.12+): the seed's own Jac file, served by jacws.

Collected only where jaclang is installed; tests/test_jac_env.py runs this module (and the
tests marked ``twin``, on the Jac twins) under Python 3.12 from older Pythons.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jac_gate import gate
from support import TIMEOUT, WS, quiet, register_and_login
from test_cli import Serve

from jacws import registry
from jacws.jac import JacLoadError, JacWalker, load_jac
from jacws.protocol import PUBLIC_ROOT_ID
from jacws.server import Server
from jacws.settings import Settings

pytestmark = pytest.mark.jac

ROOT = Path(__file__).resolve().parent.parent
CHAT_JAC = ROOT / "examples" / "chat.jac"
CHAT = {"type": "chat", "data": {"message": "string"}}
SEED_WALKERS = ["long_task", "send_chat_to_client", "send_chat_to_group", "send_chat_to_user"]

load_jac(CHAT_JAC)
load_jac(ROOT / "tests" / "jac_walkers.jac")


def new_user(server: Server, name: str) -> dict[str, Any]:
    """A user of this test alone (an empty graph)."""
    return register_and_login(server.url, f"{name}-{threading.get_ident()}@jac.example.com")


@pytest.fixture
def pair(server: Server, request: pytest.FixtureRequest) -> Iterator[tuple[WS, WS]]:
    """Two fresh users, one socket each."""
    tag = request.node.name[:20]
    x = WS(server.ws_url, token=new_user(server, f"x-{tag}")["token"])
    y = WS(server.ws_url, token=new_user(server, f"y-{tag}")["token"])
    yield x, y
    x.close()
    y.close()


def test_the_jac_walkers_are_served_with_their_has_fields_and_specs(server: Server) -> None:
    for name in [*SEED_WALKERS, "j_ref"]:
        assert issubclass(registry.get(name), JacWalker), name  # type: ignore[arg-type]
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        walkers = {w["name"]: w for w in http.get("/walkers").json()["walkers"]}
    to_user = walkers["send_chat_to_user"]
    assert to_user["methods"] == ["websocket", "post"] and to_user["auth"] is True
    assert to_user["fields"] == [
        {"name": "root_id", "type": "str", "required": True, "schema": {"title": "Root Id", "type": "string"}}
    ]
    long_task = walkers["long_task"]
    assert long_task["auth"] is False
    assert [(f["name"], f["type"], f["default"]) for f in long_task["fields"]] == [
        ("steps", "int", 5),
        ("delay", "float", 0.2),
    ]
    assert walkers["j_ref"]["description"] == "Reports what `&(ref)` is."


def test_long_task_reports_progress_with_notify_self_and_over_rest_only_answers(server: Server) -> None:
    with WS(server.ws_url) as ws, httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        ws.walker("long_task", request_id="p", steps=2, delay=0.01)
        progress = [ws.recv() for _ in range(3)]
        assert progress == [
            {"any_field": "for_progress", "progress": "0%", "status": "started"},
            {"any_field": "for_progress", "progress": "50%", "status": "inprogress"},
            {"any_field": "for_progress", "progress": "100%", "status": "completed"},
        ]
        assert ws.recv() == {"status": 200, "reports": ["done"], "id": "p"}
        rest = http.post("/walker/long_task", json={"steps": 1, "delay": 0})
        assert rest.json() == {"status": 200, "reports": ["done"]}
        quiet(ws)


def test_field_errors_name_the_has_field(server: Server, users: dict[str, Any]) -> None:
    with WS(server.ws_url, token=users["alice"]["token"]) as alice:
        missing = alice.call("send_chat_to_user")
        assert missing["code"] == "invalid_event" and missing["details"][0]["loc"] == ["root_id"]
        wrong = alice.call("long_task", steps="many")
        assert wrong["code"] == "invalid_event" and wrong["details"][0]["loc"] == ["steps"]


def spellings(node_id: str) -> list[str]:
    """Every way Python's uuid module reads the same node id."""
    hex_id = node_id.removeprefix("n::")
    dashed = str(uuid.UUID(hex_id))
    return [node_id, hex_id, hex_id.upper(), dashed, f"urn:uuid:{dashed}", f"{{{dashed}}}", f" {node_id} "]


def test_ampersand_takes_every_form_of_the_ids_jacws_hands_out(pair: tuple[WS, WS]) -> None:
    x, _ = pair
    for ref in (x.root_id, x.root_id.removeprefix("n::"), x.root_id.upper()):
        assert x.call("j_ref", ref=ref)["reports"] == [{"id": x.root_id, "context": {}}]
    memo = x.call("j_add", text="found")["reports"][0]
    assert memo["id"].startswith("n::") and memo["context"] == {"text": "found"}
    for ref in spellings(memo["id"]):
        assert x.call("j_ref", ref=ref)["reports"] == [memo], ref
    assert x.call("j_beyond", ref=x.root_id)["reports"] == [[memo]]


def test_each_user_has_a_jac_root_and_cannot_reach_another_users_nodes(pair: tuple[WS, WS]) -> None:
    x, y = pair
    memo = x.call("j_add", text="private")["reports"][0]
    assert x.call("j_list")["reports"] == [[memo]]
    assert y.call("j_list")["reports"] == [[]]
    for ref in spellings(memo["id"]):
        refused = y.call("j_rename", ref=ref, text="stolen")
        assert refused["code"] == "forbidden" and "not in your graph" in refused["error"], ref
    unknown = y.call("j_ref", ref="n::" + "0" * 32)  # unknown ids answer the same: no probing
    assert unknown["code"] == "forbidden" and "not in your graph" in unknown["error"]
    # Another user's root can be named, for notify_users as the seed's send_chat_to_user does...
    assert y.call("j_ref", ref=x.root_id)["reports"] == [{"id": x.root_id, "context": {}}]
    # ...but it is only a name: no traversal from it, and allroots() is the caller's root alone.
    assert y.call("j_beyond", ref=x.root_id)["code"] == "walker_error"
    assert y.call("j_all_roots")["reports"] == [[{"id": y.root_id, "context": {}}]]
    assert x.call("j_list")["reports"] == [[memo]]


def test_has_fields_set_by_postinit_are_not_inputs(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        walkers = {w["name"]: w for w in http.get("/walkers").json()["walkers"]}
    assert [f["name"] for f in walkers["j_doubled"]["fields"]] == ["a"]
    with WS(server.ws_url) as ws:
        assert ws.call("j_doubled", a=4)["reports"] == [8]


def test_notify_users_takes_jac_roots_as_the_seed_writes_it(server: Server) -> None:
    token = new_user(server, "roots")["token"]
    with WS(server.ws_url, token=token) as phone, WS(server.ws_url, token=token) as laptop, WS(server.ws_url) as other:
        phone.walker("j_notify_my_clients", note="to me")
        assert [phone.recv(), phone.recv()] == [{"note": "to me"}, {"status": 200, "reports": []}]
        assert laptop.recv() == {"note": "to me"}
        quiet(phone, laptop, other)


def test_anonymous_clients_share_the_public_root(server: Server) -> None:
    with WS(server.ws_url) as ws:
        assert ws.call("j_where")["reports"][1] == {"id": PUBLIC_ROOT_ID, "context": {}}


def test_a_walker_on_the_callers_root_runs_and_on_another_root_is_forbidden(server: Server) -> None:
    x_token, y_token = new_user(server, "on-x")["token"], new_user(server, "on-y")["token"]
    with WS(server.ws_url, token=x_token) as x, WS(server.ws_url, token=y_token) as y:
        x.send({"type": "walker", "walker": "j_list", "node": x.root_id, "response": True})
        assert x.recv() == {"status": 200, "reports": [[]]}
        x.send({"type": "walker", "walker": "j_list", "node": y.root_id, "response": True})
        assert x.recv()["code"] == "forbidden"
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
            mine = http.post(f"/walker/j_list/{x.root_id}", headers={"Authorization": f"Bearer {x_token}"})
            theirs = http.post(f"/walker/j_list/{y.root_id}", headers={"Authorization": f"Bearer {x_token}"})
        assert mine.json() == {"status": 200, "reports": [[]]} and theirs.status_code == 403


def test_jac_walkers_run_one_at_a_time_on_their_own_thread_and_lose_no_update(server: Server) -> None:
    token = new_user(server, "counter")["token"]
    with WS(server.ws_url) as probe:
        assert probe.call("j_where")["reports"][0] == "jacws-jac_0"
    clients = [WS(server.ws_url, token=token) for _ in range(4)]
    counts: list[int] = []

    def count(ws: WS) -> None:
        for _ in range(10):
            ws.walker("j_count")
        counts.extend(ws.recv()["reports"][0] for _ in range(10))

    threads = [threading.Thread(target=count, args=(ws,)) for ws in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    for ws in clients:
        ws.close()
    assert sorted(counts) == list(range(1, 41))


def test_a_jac_walker_past_the_time_limit_is_an_error_and_keeps_no_change() -> None:
    srv = Server(Settings(port=0, ping_interval=None).with_changes(walker_timeout=0.3)).start()
    try:
        user = register_and_login(srv.url, "slow@example.com")
        with WS(srv.ws_url, token=user["token"]) as ws:
            late = ws.call("j_slow_add", text="too late", seconds=30)
            assert late["code"] == "walker_error" and "timed out after 0.3 s" in late["error"]
            gate.set()  # the walker ends now; the next one waits for it on the Jac thread
            assert ws.call("j_list")["reports"] == [[]]
            ws.call("j_slow_add", text="in time", seconds=0)
            assert [m["context"]["text"] for m in ws.call("j_list")["reports"][0]] == ["in time"]
    finally:
        gate.clear()
        srv.stop()


def test_an_async_jac_walker_runs_to_the_end_and_keeps_its_changes(pair: tuple[WS, WS]) -> None:
    x, _ = pair
    assert x.call("j_async")["reports"] == ["async done"]
    assert [m["context"] for m in x.call("j_list")["reports"][0]] == [{"text": "from async"}]


def test_a_jac_walker_that_raises_keeps_no_change_and_the_next_one_runs(pair: tuple[WS, WS]) -> None:
    x, _ = pair
    kept = x.call("j_add", text="kept")["reports"][0]
    failed = x.call("j_add_then_fail", text="dropped")
    assert failed == {"type": "walker", "error": "walker j_add_then_fail failed: RuntimeError", "code": "walker_error"}
    assert x.call("j_list")["reports"] == [[kept]]


def test_report_does_not_print_to_the_servers_stdout(server: Server, capfd: pytest.CaptureFixture[str]) -> None:
    load_jac(
        source='walker j_loud {\n    can e with Root entry { print("printed-by-jac"); report "reported-by-jac"; }\n'
        '    class __specs__ { has methods: list = ["websocket"]; has auth: bool = False; }\n}\n',
        name="loud",
    )
    capfd.readouterr()
    with WS(server.ws_url) as ws:
        assert ws.call("j_loud")["reports"] == ["reported-by-jac"]
    out = capfd.readouterr().out
    assert "printed-by-jac" in out  # the capture sees the server's stdout...
    assert "reported-by-jac" not in out  # ...and report wrote nothing there
    registry.unregister("j_loud")


def test_load_jac_source_adds_and_replaces_walkers_in_a_running_server(server: Server) -> None:
    cell = (
        "walker j_cell {\n    can e with `root entry { report %s; }\n"
        '    class __specs__ { has methods: list = ["websocket"]; has auth: bool = False; }\n}\n'
    )
    with WS(server.ws_url) as ws:
        (first,) = load_jac(source=cell % '"first"', name="cell_one")
        assert first.__name__ == "j_cell" and ws.call("j_cell")["reports"] == ["first"]
        load_jac(source=cell % '"second"', name="cell_two")
        assert ws.call("j_cell")["reports"] == ["second"]
    registry.unregister("j_cell")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("walker x {\n    has a: int\n}\n", "broken.jac does not compile: line 3, col 1: Missing ';'"),
        ('with entry { raise ValueError("at import"); }\n', "broken.jac did not load: ValueError: at import"),
    ],
)
def test_a_jac_file_that_does_not_load_says_where_and_why(source: str, message: str) -> None:
    with pytest.raises(JacLoadError) as error:
        load_jac(source=source, name="broken")
    assert str(error.value) == message


def test_the_jac_graph_persists_across_a_restart_with_a_file_store(tmp_path: Path) -> None:
    settings = Settings(port=0, db=str(tmp_path / "chat.db"), ping_interval=None)
    first = Server(settings).start()
    user = register_and_login(first.url, "keeper@example.com")
    with WS(first.ws_url, token=user["token"]) as ws:
        memo = ws.call("j_add", text="kept")["reports"][0]
    first.stop()
    assert (tmp_path / ".jac" / "data" / "chat.db").is_file()  # where jaclang keeps a file's graph
    second = Server(settings).start()
    try:
        user = register_and_login(second.url, "keeper@example.com")
        with WS(second.ws_url, token=user["token"]) as ws:
            assert ws.call("j_list")["reports"] == [[memo]]
    finally:
        second.stop()


def test_a_memory_store_keeps_the_jac_graph_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # where jaclang would put a file of its own
    srv = Server(Settings(port=0, ping_interval=None)).start()
    try:
        user = register_and_login(srv.url, "forgetful@example.com")
        with WS(srv.ws_url, token=user["token"]) as ws:
            memo = ws.call("j_add", text="in memory")["reports"][0]
            assert ws.call("j_list")["reports"] == [[memo]]
    finally:
        srv.stop()
    assert list(tmp_path.iterdir()) == []


def test_jacws_serve_runs_the_seeds_jac_file(tmp_path: Path) -> None:
    serve = Serve(str(CHAT_JAC), "--db", str(tmp_path / "chat.db"))
    try:
        serve.wait_for_line("Application startup complete", timeout=60)
        with httpx.Client(base_url=serve.url, timeout=TIMEOUT) as http:
            assert [w["name"] for w in http.get("/walkers").json()["walkers"]] == SEED_WALKERS
        alice = register_and_login(serve.url, "alice@example.com")
        bob = register_and_login(serve.url, "bob@example.com")
        with WS(serve.ws_url, token=alice["token"]) as a, WS(serve.ws_url, token=bob["token"]) as b:
            assert a.call("send_chat_to_user", root_id=b.root_id) == {"status": 200, "reports": []}
            assert b.recv() == CHAT
            quiet(a, b)
        assert serve.interrupt() == 0
    finally:
        if serve.process.poll() is None:
            serve.process.kill()
        serve.close()


def test_jacws_serve_refuses_workers_for_jac_files() -> None:
    command = [sys.executable, "-m", "jacws.cli", "serve", str(CHAT_JAC), "--workers", "2"]
    command += ["--redis-url", "redis://127.0.0.1:1", "--db", "x.db", "--port", "0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2 and "Jac walkers run in one process" in result.stderr


def test_importing_jacws_does_not_import_jaclang() -> None:
    code = "import sys, jacws, jacws.app, jacws.cli, jacws.client, jacws.jac; print('jaclang' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


def test_the_graph_view_draws_a_jac_users_graph_and_the_walk_over_it(server: Server) -> None:
    from jacws.widgets import GraphView

    client = server.client(user=f"graph-{threading.get_ident()}@jac.example.com")
    view = GraphView(client)
    try:
        assert client.walker("j_chain").result()["reports"] == ["first", "second"]
        view.flush()
        assert len(view.nodes) == 3 and view.nodes[0] == client.root_id
        first, second = view.nodes[1:]
        assert view.edges == [(client.root_id, first), (first, second)]
        assert view.path == [client.root_id, first, second] and view.walker == "j_chain"
        assert view.walk["reports"] == [[], ['"first"'], ['"second"']]
        labels = {node["id"]: node["label"] for node in view.graph_nodes}
        assert labels[first] == "Memo\ntext: first" and labels[second] == "Memo\ntext: second"
    finally:
        view.close()
        client.close()


HELLO_CELL = """import from jacws {socket}

walker j_hello {
    has name: str = "world";

    class __specs__ {
        has methods: list = ["websocket"];
        has auth: bool = False;
    }

    can greet with `root entry {
        socket.notify_channels(["lobby"], {"type": "greeting", "text": "hello " + self.name});
        report "greeted " + self.name;
    }
}
"""


def test_a_session_of_jac_walkers_exports_as_a_test_that_passes_and_then_catches_a_change(tmp_path: Path) -> None:
    from jacws.export import write

    load_jac(source=HELLO_CELL, name="jac_export_cell")  # as a %%jac cell does
    with Server(Settings(port=0)) as server:
        alice = server.client(user="alice@jac.example.com", channel_id="lobby")
        guest = server.client(channel_id="lobby")
        assert alice.walker("j_hello", name="Ada").result()["reports"] == ["greeted Ada"]
        guest.wait_for(lambda m: m.get("type") == "greeting")
        assert alice.walker("j_chain").result()["reports"] == ["first", "second"]
        test = write(tmp_path / "test_jac_session.py", [alice, guest])
    source = test.read_text()
    assert "JAC_1 = " in source and "jac_source(JAC_1, name='jac_export_cell')" in source  # the cell, copied
    assert "jac_walkers.jac" in source  # the file, named by path
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:jaclang", test.name]
    passed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    test.write_text(source.replace('"hello " + self.name', '"hi " + self.name'))
    failed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert failed.returncode == 1 and "'hi Ada'" in failed.stdout and "'hello Ada'" in failed.stdout, failed.stdout


@pytest.mark.parametrize("transport", ["socket", "rest"])
def test_a_jac_walker_keeps_its_changes_only_when_it_answers_success_whatever_the_timing(transport: str) -> None:
    from jacws.jac import read_graph

    with Server(Settings(port=0).with_changes(walker_timeout=0.3)) as server:
        login = register_and_login(server.url, f"jac-timing-{transport}@example.com")
        root_id = "n::" + login["user"]["root_id"]
        store = server.runtime.store if server.runtime is not None else None
        assert store is not None
        outcomes = []
        with WS(server.ws_url, token=login["token"]) as ws, httpx.Client(base_url=server.url, timeout=60) as http:
            for count in (50, 100, 200, 400, 800, 1600, 3200, 6400):  # from well within the limit to well past it
                before = memos(read_graph(store, root_id)[0], root_id)
                if transport == "socket":
                    answer = ws.call("j_many", count=count)
                else:
                    headers = {"Authorization": f"Bearer {login['token']}"}
                    answer = http.post("/walker/j_many", json={"count": count}, headers=headers).json()
                after = memos(read_graph(store, root_id)[0], root_id)
                ok = answer.get("status") == 200
                outcomes.append((count, ok))
                assert after - before == (count if ok else 0), (count, answer, before, after)
        assert any(ok for _, ok in outcomes) and not all(ok for _, ok in outcomes), outcomes


def memos(nodes: list[Any], root_id: str) -> int:
    """How many nodes besides the root (which a first run creates)."""
    return sum(1 for node in nodes if node.id != root_id)


def test_a_jac_walker_takes_files_over_rest_and_the_socket_refuses_it(server: Server) -> None:
    source = (
        "import from fastapi { UploadFile }\n\n"
        "walker j_upload {\n"
        "    has file: UploadFile;\n"
        '    has note: str = "";\n'
        "    can e with `root entry {\n"
        "        data = self.file.file.read();\n"
        '        report {"name": self.file.filename, "type": self.file.content_type, "size": len(data), '
        '"note": self.note};\n'
        "    }\n"
        '    class __specs__ { has methods: list = ["post", "websocket"]; has auth: bool = False; }\n'
        "}\n"
    )
    (walker,) = load_jac(source=source, name="uploads")
    try:
        assert walker.__jacws_files__ == {"file": "file"}
        files = {"file": ("notes.txt", b"twelve bytes", "text/plain")}
        answer = httpx.post(server.url + "/walker/j_upload", files=files, data={"note": "jac"}, timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        assert answer.json()["reports"] == [{"name": "notes.txt", "type": "text/plain", "size": 12, "note": "jac"}]
        with WS(server.ws_url) as ws:
            assert ws.call("j_upload")["code"] == "files_need_rest"
    finally:
        registry.unregister("j_upload")

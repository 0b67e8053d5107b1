"""A session written out as a Mermaid diagram, a JSONL log, and a pytest module that replays it (jacws.export)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from mermaid_check import parse_mermaid
from nbclient import NotebookClient

from jacws.client import Client
from jacws.export import ExportError, write
from jacws.server import Server
from jacws.settings import Settings
from jacws.testing import build_registry
from jacws.traffic import Flow, Traffic
from jacws.widgets import Playground

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE.parent / "notebooks"


@pytest.fixture
def walker_file(tmp_path: Path) -> Path:
    """A copy of the session walkers beside where the tests are exported (so a test can edit it)."""
    path = tmp_path / "exported_walkers.py"
    shutil.copy(HERE / "session_walkers.py", path)
    return path


@pytest.fixture
def session_server(walker_file: Path) -> Iterator[Server]:
    server = Server(Settings(port=0), build_registry((walker_file,), walker_file.parent)).start()
    yield server
    server.stop()


def play_session(server: Server) -> list[Client]:
    """A small session: a walker's answer and channel notification, a chat, a node, a direct message."""
    alice = server.client(user="alice@example.com", channel_id="lobby")
    bob = server.client(user="bob@example.com", channel_id="lobby")
    guest = server.client(channel_id="lobby")
    alice.walker("s_greet", name="Ada").result()
    for client in (bob, guest):
        client.wait_for(lambda m: m.get("type") == "greeting")
    guest.channel(["lobby"], {"type": "chat", "text": "a; b # c <b>bold</b> 100%"})
    for client in (alice, bob, guest):
        client.wait_for(lambda m: m.get("type") == "chat")
    memo = bob.walker("s_remember", text="milk").result()["reports"][0]
    guest.user([bob.root_id], {"type": "dm", "memo": memo["id"]})
    bob.wait_for(lambda m: m.get("type") == "dm")
    return [alice, bob, guest]


def run_pytest(path: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path.name]
    return subprocess.run(command, cwd=path.parent, capture_output=True, text=True, timeout=120)


def test_the_markdown_export_is_a_sequence_diagram_mermaid_reads_with_an_arrow_per_flow(
    session_server: Server, tmp_path: Path
) -> None:
    clients = play_session(session_server)
    traffic = Traffic(clients)
    path = write(tmp_path / "session.md", clients, traffic)
    parsed = parse_mermaid(path)
    assert parsed["type"] == "sequence"
    assert parsed["actors"] == ["server", "alice@example.com", "bob@example.com", clients[2].name]
    flows = traffic.flows
    assert [(m["from"], m["to"]) for m in parsed["messages"]] == [(f.source, f.target) for f in flows]
    chat = next(m for m in parsed["messages"] if m["text"].startswith("chat"))
    assert chat["text"] == "chat · channel lobby"
    assert [m["text"] for m in parsed["messages"] if m["from"] == "alice@example.com"] == ["walker s_greet"]
    assert [m["text"] for m in parsed["messages"]] == [_label(f) for f in flows]  # the flow view's labels


def _label(flow: Flow) -> str:
    return f"{flow.label} · {flow.route}" if flow.kind in ("channel", "user", "client") else flow.label


def test_labels_with_mermaid_syntax_in_them_still_parse(session_server: Server, tmp_path: Path) -> None:
    alice = session_server.client(channel_id="lobby")
    alice.channel(["lobby"], {"type": "a;b #1 <i>x</i> %% end"})
    alice.wait_for(lambda m: m.get("type", "").startswith("a;b"))
    parsed = parse_mermaid(write(tmp_path / "odd.md", [alice]))
    assert len(parsed["messages"]) == 3  # connection, the send, the receipt: nothing split or lost


def test_the_jsonl_export_has_every_frame_with_its_client_direction_time_and_what_it_answers(
    session_server: Server, tmp_path: Path
) -> None:
    clients = play_session(session_server)
    lines = [json.loads(line) for line in write(tmp_path / "session.jsonl", clients).read_text().splitlines()]
    assert len(lines) == sum(len(c.sent) + len(c.inbox) for c in clients)
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert [line["at"] for line in lines] == sorted(line["at"] for line in lines)
    by_seq = {line["seq"]: line for line in lines}
    walker = next(line for line in lines if line["direction"] == "sent" and line["frame"]["type"] == "walker")
    answers = [line for line in lines if line.get("answers") == walker["seq"]]
    assert {(a["client"], a["route"]) for a in answers} == {
        ("alice@example.com", "channel"),
        ("alice@example.com", "response"),
        ("bob@example.com", "channel"),
        (clients[2].name, "channel"),
    }
    dm = next(line for line in lines if line["direction"] == "received" and line["frame"].get("type") == "dm")
    assert by_seq[dm["answers"]]["client"] == clients[2].name and dm["origin"] == "client"
    connections = [line for line in lines if line["frame"].get("type") == "connection"]
    assert len(connections) == 3 and all(line["answers"] is None for line in connections)


def test_the_python_export_passes_at_once_and_names_the_difference_when_a_walker_changes(
    session_server: Server, walker_file: Path, tmp_path: Path
) -> None:
    clients = play_session(session_server)
    path = write(tmp_path / "test_replayed.py", clients, walkers=session_server.walkers)
    source = path.read_text()
    assert "HERE.joinpath('exported_walkers.py')" in source and "'<node 1>'" in source
    assert "<root bob@example.com>" in source  # the dm's target, by name
    passed = run_pytest(path)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "1 passed" in passed.stdout
    walker_file.write_text(walker_file.read_text().replace('f"greeted {self.name}"', 'f"greeted {self.name}!"'))
    failed = run_pytest(path)
    assert failed.returncode == 1, failed.stdout
    assert "At index 2 diff:" in failed.stdout
    assert "'greeted Ada!'" in failed.stdout and "'greeted Ada'" in failed.stdout


def test_the_playgrounds_export_button_writes_the_chosen_form(session_server: Server, tmp_path: Path) -> None:
    clients = play_session(session_server)
    play = Playground(session_server, clients)
    name, kind, button, status = play.export_controls
    name.value = str(tmp_path / "from-button")
    for suffix in (".md", ".jsonl", ".py"):
        kind.value = suffix
        button.click()
        assert (tmp_path / f"from-button{suffix}").is_file()
        assert f"from-button{suffix}</code>" in status.value
    assert run_pytest(tmp_path / "from-button.py").returncode == 0
    name.value = str(tmp_path / "missing-folder" / "x")
    button.click()
    assert "jacws-export-error" in status.value and "No such file or directory" in status.value


def test_an_unknown_suffix_or_nothing_to_replay_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=re.escape("the suffix must be one of .md, .jsonl, .py")):
        write(tmp_path / "session.txt", [])
    with pytest.raises(ExportError, match="nothing to replay"):
        write(tmp_path / "test_nothing.py", [])


def test_the_quickstart_exports_a_diagram_mermaid_reads_and_a_test_that_catches_a_changed_walker(
    tmp_path: Path,
) -> None:
    notebook = nbformat.read(NOTEBOOKS / "01_quickstart.ipynb", as_version=4)
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # in a folder of its own: the exports land there
    parsed = parse_mermaid(tmp_path / "quickstart_session.md")
    assert parsed["actors"] == ["server", "alice@example.com", "bob@example.com", "guest-1"]
    assert ("guest-1", "bob@example.com") in [(m["from"], m["to"]) for m in parsed["messages"]]  # the chat
    shown = "".join(o.get("text", "") for cell in notebook.cells for o in cell.get("outputs", []))
    assert "1 passed" in shown  # the notebook ran its exported test
    test = tmp_path / "test_quickstart_session.py"
    assert "class greet(Walker):" in test.read_text()  # the notebook's walker, copied in
    passed = run_pytest(test)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    test.write_text(test.read_text().replace('f"hello {self.name}"', 'f"hi {self.name}"'))
    failed = run_pytest(test)
    assert failed.returncode == 1
    assert (
        "{'type': 'greeting', 'text': 'hi Jupyter'} != {'type': 'greeting', 'text': 'hello Jupyter'}" in failed.stdout
    )

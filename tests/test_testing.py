"""The pytest plugin (jacws.testing): fixtures and marker, as a user's own test suite meets them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_suite(folder: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Write ``test_user.py`` into ``folder`` and run pytest there, as a user of jacws would."""
    (folder / "test_user.py").write_text(textwrap.dedent(source))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, "test_user.py"]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)


def test_a_users_suite_gets_a_server_and_clients_from_the_installed_plugin(tmp_path: Path) -> None:
    shutil.copy(HERE / "session_walkers.py", tmp_path / "walkers.py")
    result = run_suite(
        tmp_path,
        """
        import urllib.request
        import pytest

        ports = []

        @pytest.mark.jacws_walkers("walkers.py")
        def test_greeting_reaches_the_lobby(jacws_server, jacws_client):
            alice = jacws_client(user="alice@example.com", channel_id="lobby")
            guest = jacws_client(channel_id="lobby")
            assert guest.anonymous and not alice.anonymous and alice.email == "alice@example.com"
            assert alice.walker("s_greet", name="Ada").result()["reports"] == ["greeted Ada"]
            assert guest.wait_for(lambda m: m.get("type") == "greeting")["text"] == "hello Ada"
            with urllib.request.urlopen(jacws_server.url + "/walkers") as answer:
                assert b"s_greet" in answer.read()
            ports.append(jacws_server.port)

        def test_the_last_server_was_stopped_and_this_one_serves_every_walker_defined(jacws_server):
            import socket
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", ports[0]), timeout=2)
            assert jacws_server.port != ports[0]
            assert jacws_server.client().walker("s_greet").result()["status"] == 200  # defined by the import above
        """,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_the_marker_takes_a_list_of_classes_and_module_names_and_refuses_anything_else(tmp_path: Path) -> None:
    shutil.copy(HERE / "session_walkers.py", tmp_path / "my_walkers.py")
    result = run_suite(
        tmp_path,
        """
        import pytest
        from my_walkers import s_greet

        @pytest.mark.jacws_walkers([s_greet])
        def test_only_the_class_is_served(jacws_client):
            client = jacws_client(user="bob@example.com")
            assert client.walker("s_greet").result()["status"] == 200
            assert "unknown walker 's_remember'" in str(client.walker("s_remember").result())

        @pytest.mark.jacws_walkers("my_walkers")
        def test_a_module_name_serves_its_walkers(jacws_client):
            assert jacws_client(user="bob@example.com").walker("s_remember", text="x").result()["status"] == 200

        @pytest.mark.jacws_walkers(42)
        def test_a_number_is_refused(jacws_server):
            pass

        @pytest.mark.jacws_walkers("nowhere.py")
        def test_a_missing_file_is_refused(jacws_server):
            pass
        """,
        "--rootdir",
        str(tmp_path),
    )
    assert "2 passed, 2 errors" in result.stdout, result.stdout + result.stderr
    assert "jacws_walkers: 42 names no walkers" in result.stdout
    assert "jacws_walkers: no such file:" in result.stdout and "nowhere.py" in result.stdout


def test_the_marker_is_registered_for_strict_markers(tmp_path: Path) -> None:
    result = run_suite(
        tmp_path,
        """
        import pytest

        @pytest.mark.jacws_walkers()
        def test_nothing(jacws_client):
            assert jacws_client().anonymous
        """,
        "--strict-markers",
    )
    assert result.returncode == 0, result.stdout + result.stderr

"""jacws as a new user installs it: a wheel built from the repository, installed with its ``notebook`` extra into a
fresh venv outside the repository. The playground command copies the shipped tutorials into an empty folder and
opens JupyterLab there, the quickstart runs from that folder, a changed tutorial is kept, and a shipped example
serves."""

from __future__ import annotations

import ast
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import tomllib
from services import free_port
from support import TIMEOUT

ROOT = Path(__file__).resolve().parent.parent
INSTALL_TIMEOUT = 900  # seconds: the notebook extra's packages, from pip's cache or the registry


def test_every_package_of_jacws_is_in_the_wheels_list() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "jacws").rglob("__init__.py")}
    assert packages <= listed, f"missing from [tool.setuptools] packages: {sorted(packages - listed)}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv (outside the repository) with the built wheel and its ``notebook`` extra; its bin folder."""
    home = tmp_path_factory.mktemp("installed")
    wheels = home / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(wheels), str(ROOT)],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = wheels.glob("jacws-*.whl")
    venv = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    clean = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    pip = subprocess.run(  # from the venv's folder: pip must not take a checkout's metadata for an installed jacws
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"jacws[notebook] @ {wheel.as_uri()}"],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False, cwd=home, env=clean,
    )  # fmt: skip
    assert (venv / "bin" / "jacws").is_file(), pip.stdout + pip.stderr
    assert pip.returncode == 0, pip.stdout + pip.stderr
    yield venv / "bin"
    shutil.rmtree(home, ignore_errors=True)


def run(bin_dir: Path, *command: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(list(command), capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env, check=False)


def open_playground(bin_dir: Path, folder: Path) -> tuple[int, str]:
    """``jacws playground`` in ``folder`` until JupyterLab serves the quickstart; its exit status and output."""
    port, token = free_port(), "packaging-test-token"
    env = {
        **{key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "JUPYTER_RUNTIME_DIR": str(folder / ".runtime"),
        "JUPYTER_CONFIG_DIR": str(folder / ".config"),
    }
    command = [
        str(bin_dir / "jacws"), "playground", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
    ]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=folder, env=env)
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []
    pump = threading.Thread(target=lambda: [lines.put(line) for line in process.stderr or []], daemon=True)
    pump.start()
    try:
        deadline = time.monotonic() + 90
        while f"127.0.0.1:{port}/lab" not in (line := lines.get(timeout=max(0.1, deadline - time.monotonic()))):
            seen.append(line)
        with httpx.Client(timeout=TIMEOUT) as http:
            answer = http.get(f"http://127.0.0.1:{port}/api/contents/01_quickstart.ipynb", params={"token": token})
        assert answer.status_code == 200 and answer.json()["name"] == "01_quickstart.ipynb", answer.text
    finally:
        process.terminate()
        code = process.wait(timeout=30)
        pump.join(TIMEOUT)
        if process.stderr is not None:
            process.stderr.close()
    return code, "".join(seen)


def test_the_playground_copies_the_tutorials_and_the_quickstart_runs_there(installed: Path, tmp_path: Path) -> None:
    listing = run(installed, "jacws", "playground", "--list", cwd=tmp_path)
    assert listing.returncode == 0 and "01_quickstart.ipynb" in listing.stdout and "Quickstart" in listing.stdout
    _, output = open_playground(installed, tmp_path)
    tutorials = tmp_path / "jacws-tutorials"
    assert "the tutorials are in" in output and str(tutorials) in output
    shipped = {line.split()[0] for line in listing.stdout.splitlines()}
    assert shipped <= {path.name for path in tutorials.glob("*.ipynb")}
    assert (tutorials / "PROTOCOL.md").read_text().startswith("# ")  # what the tutorials link to
    execute = (
        "import nbformat, nbclient, sys\n"
        "nb = nbformat.read('01_quickstart.ipynb', as_version=4)\n"
        "client = nbclient.NotebookClient(nb, timeout=120, kernel_name='python3')\n"
        "client.execute()\n"
        "print('executed', len(nb.cells))\n"
    )
    ran = run(installed, str(installed / "python"), "-c", execute, cwd=tutorials, timeout=300)
    assert ran.returncode == 0 and "executed" in ran.stdout, ran.stdout + ran.stderr


def test_a_changed_tutorial_is_kept_when_the_playground_opens_again(installed: Path, tmp_path: Path) -> None:
    open_playground(installed, tmp_path)
    quickstart = tmp_path / "jacws-tutorials" / "01_quickstart.ipynb"
    notebook = json.loads(quickstart.read_text())
    notebook["cells"].append({"cell_type": "markdown", "metadata": {}, "source": ["my own notes"]})
    quickstart.write_text(json.dumps(notebook))
    _, output = open_playground(installed, tmp_path)
    assert "kept your changed" in output and "01_quickstart.ipynb" in output
    assert "my own notes" in quickstart.read_text()


def test_a_shipped_example_serves_the_seeds_walkers(installed: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    command = [str(installed / "jacws"), "serve", "--example", "chat", "--port", str(port)]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL, cwd=tmp_path, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/walkers", timeout=TIMEOUT)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "jacws serve --example did not start"
                time.sleep(0.1)
        names = {walker["name"] for walker in answer.json()["walkers"]}
        assert {"send_chat_to_user", "send_chat_to_group", "send_chat_to_client"} <= names, names
    finally:
        process.terminate()
        process.wait(timeout=30)
    copied = run(installed, "jacws", "examples", "--copy", "mine", cwd=tmp_path)
    assert copied.returncode == 0, copied.stderr
    assert {"chat.py", "chat.jac", "ws_client.mjs"} <= {p.name for p in (tmp_path / "mine").iterdir()}
    assert ast.parse((tmp_path / "mine" / "chat.py").read_text())  # the example itself, to edit

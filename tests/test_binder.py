"""Binder opens the repository with the notebooks working.

The last test builds the notebook environment from the ``binder/`` files alone, as repo2docker
would: a fresh venv of runtime.txt's Python, ``pip install -r binder/requirements.txt``, then
``binder/postBuild`` from the repository root, with no system programs but those of the Debian
packages ``binder/apt.txt`` lists and a Binder image's basics. Then it runs every notebook on a
kernel of that venv, under the same limited PATH. The venv is kept in ``.binder-venv/`` while the
``binder/`` files and pyproject.toml are unchanged (jacws itself is installed editable, so it runs
the checkout's code).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
VENV = ROOT / ".binder-venv"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BUILD_TIMEOUT = 1200  # each of the two install steps, from an empty pip cache
NOTEBOOK_TIMEOUT = 300  # one notebook, kernel start and shutdown included
CELL_TIMEOUT = 120
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What every Binder image has whatever the repository asks for: repo2docker builds on an Ubuntu
# image with bash, coreutils, grep, sed, which and git (postBuild's `#!/usr/bin/env bash` needs
# bash on the PATH). Only these, from this machine, stand for them; anything else a notebook needs
# must come from binder/apt.txt or the pip installs, or the test fails as Binder would.
BINDER_BASICS = (
    "sh", "bash", "env", "cat", "ls", "cp", "mv", "rm", "mkdir", "rmdir", "ln", "chmod", "touch",
    "head", "tail", "sort", "uname", "id", "sleep", "date", "grep", "sed", "which", "git",
)  # fmt: skip
# Runs in the binder venv's Python: executes one notebook on the venv's own python3 kernel
# (jupyter_client starts it with this interpreter) and writes what went wrong, cell by cell.
DRIVER = r"""
import json, re, sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

path, report, timeout = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
notebook = nbformat.read(path, as_version=4)
probe = "import json, os, sys; print(json.dumps({'prefix': sys.prefix, 'path': os.environ['PATH']}))"
notebook.cells.append(nbformat.v4.new_code_cell(probe))
resources = {"metadata": {"path": str(path.parent)}}
client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources=resources)
failure = None
plain = lambda text: re.sub(r"\x1b\[[0-9;]*m", "", text)
try:
    client.execute()
except CellExecutionError as error:
    failure = plain(str(error))[-6000:]
errors, stderr = [], []
for number, cell in enumerate(notebook.cells):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            errors.append({"cell": number, "error": plain("\n".join(output.get("traceback", [])))[-3000:]})
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            stderr.append({"cell": number, "text": plain(output["text"])[-3000:]})
probe_outputs = notebook.cells[-1].get("outputs", [])
kernel = json.loads(probe_outputs[0]["text"]) if probe_outputs and "text" in probe_outputs[0] else None
report.write_text(json.dumps({"failure": failure, "errors": errors, "stderr": stderr, "kernel": kernel}))
"""


def test_binder_pins_python_and_the_notebook_requirements() -> None:
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.12"  # jaclang needs 3.12+
    requirements = (BINDER / "requirements.txt").read_text()
    assert re.search(r"^jupyter-server-proxy>=4\.2$", requirements, re.M)  # older versions had an auth hole
    for package in ("jupyterlab", "ipywidgets", "anywidget"):
        assert re.search(rf"^{package}\b", requirements, re.M), package


def test_post_build_is_an_executable_script_installing_the_package() -> None:
    post_build = BINDER / "postBuild"
    assert os.access(post_build, os.X_OK)
    extras = re.search(r'pip install .*-e "\.\[([a-z,]+)\]"', post_build.read_text())
    assert extras and {"jac", "redis"} <= set(extras.group(1).split(",")), "postBuild must install jacws[jac,redis]"
    check = subprocess.run(["bash", "-n", str(post_build)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr


def test_binder_installs_redis_server_for_the_scale_out_notebook() -> None:
    assert "redis-server" in apt_packages()


def test_binder_requirements_are_installed_here_too() -> None:
    code = "import jupyterlab, jupyter_server_proxy, ipywidgets, anywidget"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_there_are_notebooks_to_run_on_binder() -> None:
    assert len(NOTEBOOKS) >= 6


@dataclass(frozen=True)
class BinderEnv:
    python: Path
    env: dict[str, str]
    """The notebooks' environment: the venv's bin and the system programs Binder has, nothing else."""


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BinderEnv]:
    system = binder_system_programs(tmp_path_factory.mktemp("binder-bin"))
    python = binder_venv(system)
    home = tmp_path_factory.mktemp("binder-home")  # Binder's own home: no user-wide Jupyter or pip settings
    env = {
        "PATH": f"{python.parent}{os.pathsep}{system}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "JUPYTERHUB_SERVICE_PREFIX": "/user/binder/",  # as on Binder: browser_url() goes through the proxy
    }
    yield BinderEnv(python, env)


@pytest.mark.timeout(2 * BUILD_TIMEOUT + NOTEBOOK_TIMEOUT + 60)  # the first one builds the venv
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_in_the_environment_built_from_the_binder_files(
    path: Path, binder_env: BinderEnv, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    command = [str(binder_env.python), "-c", DRIVER, str(path), str(report), str(CELL_TIMEOUT)]
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=NOTEBOOK_TIMEOUT, cwd=path.parent, env=binder_env.env
    )
    assert run.returncode == 0 and report.is_file(), run.stdout[-3000:] + run.stderr[-6000:]
    result = json.loads(report.read_text())
    assert result["failure"] is None and result["errors"] == [], json.dumps(result, indent=1)
    assert result["stderr"] == [], json.dumps(result["stderr"], indent=1)  # no warnings either
    kernel = result["kernel"]  # the kernel was the binder venv's Python, under the limited PATH
    assert kernel is not None and Path(kernel["prefix"]) == VENV, kernel
    assert kernel["path"] == binder_env.env["PATH"], kernel


def apt_packages() -> list[str]:
    """The Debian packages binder/apt.txt names (one a line, # comments)."""
    lines = (BINDER / "apt.txt").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def binder_system_programs(folder: Path) -> Path:
    """A folder of symlinks: the executables of binder/apt.txt's packages, and a Binder image's basics."""
    dpkg = shutil.which("dpkg-query", path=SYSTEM_PATH)
    assert dpkg, "dpkg-query is missing: the Binder test reads binder/apt.txt's packages from a Debian system"
    for package in apt_packages():
        listing = subprocess.run([dpkg, "-L", package], capture_output=True, text=True, timeout=30)
        assert listing.returncode == 0, f"binder/apt.txt's {package} is not installed: apt-get install -y {package}"
        executables = [
            Path(line)
            for line in listing.stdout.splitlines()
            if re.match(r"^/(usr/)?s?bin/[^/]+$", line) and os.access(line, os.X_OK) and not Path(line).is_dir()
        ]
        assert executables, f"{package} installs no program"
        for program in executables:
            (folder / program.name).symlink_to(program)
    for name in BINDER_BASICS:
        program = shutil.which(name, path=SYSTEM_PATH)
        assert program, f"{name} is missing: every Binder image has it"
        if not (folder / name).exists():
            (folder / name).symlink_to(program)
    return folder


def binder_python() -> str:
    """runtime.txt's Python: JACWS_BINDER_PYTHON, this one, pyenv's, or pythonX.Y on the PATH."""
    runtime = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+)\.(\d+)", runtime)
    assert match, f"binder/runtime.txt: {runtime!r}"
    major, minor = int(match.group(1)), int(match.group(2))
    candidates = [os.environ.get("JACWS_BINDER_PYTHON", ""), sys.executable]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += [str(p) for p in sorted(pyenv.glob(f"{major}.{minor}.*/bin/python3"), reverse=True)]
    candidates.append(shutil.which(f"python{major}.{minor}") or "")
    check = f"import sys; sys.exit(sys.version_info[:2] != ({major}, {minor}))"
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", check], timeout=30).returncode == 0:
            return candidate
    pytest.fail(
        f"the Binder test needs Python {major}.{minor} (binder/runtime.txt): "
        f"install one (pyenv install {major}.{minor}) or set JACWS_BINDER_PYTHON"
    )


def binder_venv(system: Path) -> Path:
    """``.binder-venv``'s python, built from the binder files, or rebuilt when they or pyproject.toml changed."""
    base = binder_python()
    digest = hashlib.sha256(base.encode())
    for file in [*sorted(p for p in BINDER.iterdir() if p.is_file()), ROOT / "pyproject.toml"]:
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    python, stamp = VENV / "bin" / "python", VENV / "jacws-binder.sha256"
    # One build at a time, even from pytest runs started side by side in this checkout.
    with (BINDER / "requirements.txt").open() as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if python.exists() and stamp.is_file() and stamp.read_text() == digest.hexdigest():
            return python
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([base, "-m", "venv", str(VENV)], check=True, timeout=300)
        # pip's own settings (index, certificates) stay; the programs are Binder's only.
        env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env |= {"PATH": f"{python.parent}{os.pathsep}{system}", "VIRTUAL_ENV": str(VENV)}
        steps = [
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(BINDER / "requirements.txt")],
            [str(BINDER / "postBuild")],
        ]
        for step in steps:
            result = subprocess.run(step, capture_output=True, text=True, timeout=BUILD_TIMEOUT, cwd=ROOT, env=env)
            assert result.returncode == 0, f"{step[-1]} failed:\n{result.stdout[-4000:]}{result.stderr[-4000:]}"
        stamp.write_text(digest.hexdigest())
    return python

"""The jac extra from any Python: the seed's file, the message without jaclang, and the Jac suite on 3.12+.

jaclang needs Python 3.12 or newer. Under an older Python, the last test here makes a venv of
Python 3.12+ (``.jac-venv``, kept while pyproject.toml is unchanged) and runs there the Jac
tests and every test marked ``twin``, with the Jac twins of their walkers in place.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import JAC

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "docs" / "SEED.md"  # the original jac-cloud websocket document, as given
CHAT_JAC = ROOT / "examples" / "chat.jac"
VENV = ROOT / ".jac-venv"
JAC_RUN = [
    "-m",
    "twin or jac",
    "tests/test_seed.py",
    "tests/test_app.py",
    "tests/test_jac.py",
    "tests/test_notebooks.py",
    "tests/test_jupyterlab.py",
]
WITHOUT_JACLANG = "import sys; sys.modules['jaclang'] = None\n"  # what `import jaclang` does when it is not installed


def seed_jac_block() -> str:
    text = SEED.read_text()
    start = text.index('"""Websocket scenarios."""')
    return text[start : text.index("```", start)]


def test_chat_jac_is_the_seeds_file_with_only_its_import_line_changed() -> None:
    seed = seed_jac_block().splitlines()
    ours = CHAT_JAC.read_text().splitlines()[: len(seed)]
    changed = [(a, b) for a, b in zip(seed, ours, strict=True) if a != b]
    assert changed == [("import:py from jac_cloud.plugin {WEBSOCKET_MANAGER as socket}", "import from jacws {socket}")]


def test_without_jaclang_load_jac_says_what_to_install() -> None:
    code = WITHOUT_JACLANG + "from jacws.jac import load_jac\nload_jac('examples/chat.jac')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 1
    assert (
        'jacws.errors.JacUnavailable: Jac walkers need the jac extra on Python 3.12 or newer: pip install "jacws[jac]"'
        in (result.stderr)
    )


def test_without_jaclang_jacws_serve_of_a_jac_file_exits_with_the_message() -> None:
    code = WITHOUT_JACLANG + "from jacws.cli import main\nsys.exit(main(['serve', 'examples/chat.jac', '--port', '0']))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2
    assert result.stderr.startswith(
        'jacws: Jac walkers need the jac extra on Python 3.12 or newer: pip install "jacws[jac]"'
    )


def find_python_312() -> str:
    """A Python 3.12+ to run the Jac tests with: JACWS_JAC_PYTHON, pyenv's, or python3.12/3.13 on PATH."""
    candidates = [os.environ.get("JACWS_JAC_PYTHON", "")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += [str(p) for p in sorted(pyenv.glob("3.1[2-9]*/bin/python3"))]
    candidates += [shutil.which(name) or "" for name in ("python3.12", "python3.13")]
    for candidate in filter(None, candidates):
        check = subprocess.run([candidate, "-c", "import sys; sys.exit(sys.version_info < (3, 12))"], timeout=30)
        if check.returncode == 0:
            return candidate
    pytest.fail("the Jac tests need Python 3.12 or newer: install one (pyenv install 3.12) or set JACWS_JAC_PYTHON")


def jac_python() -> str:
    """This Python if jaclang is here; else the venv's, made (or remade when pyproject.toml changed)."""
    if JAC:
        return sys.executable
    python = VENV / "bin" / "python"
    stamp = VENV / "jacws-pyproject.sha256"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if python.exists() and stamp.is_file() and stamp.read_text() == wanted:
        return str(python)
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([find_python_312(), "-m", "venv", str(VENV)], check=True, timeout=300)
    install = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", f"{ROOT}[test,jac]"]
    subprocess.run(install, check=True, timeout=1200)
    stamp.write_text(wanted)
    return str(python)


@pytest.mark.timeout(1800)
def test_the_jac_tests_and_the_twin_tests_on_jac_walkers_pass_under_python_312() -> None:
    python = jac_python()
    env = {**os.environ, "JACWS_TWINS": "jac"}
    env.pop("PYTEST_ADDOPTS", None)
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *JAC_RUN]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1500, cwd=ROOT, env=env)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    passed = re.match(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 44, summary  # 19 twin cases, 23 Jac tests, the Jac notebook twice
    assert "skipped" not in summary and "deselected" in summary, summary

"""Binder opens the repository with the notebooks working: runtime, requirements, post-build install."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

BINDER = Path(__file__).resolve().parent.parent / "binder"


def test_binder_pins_python_and_the_notebook_requirements() -> None:
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.12"  # jaclang needs 3.12+
    requirements = (BINDER / "requirements.txt").read_text()
    assert re.search(r"^jupyter-server-proxy>=4\.2$", requirements, re.M)  # older versions had an auth hole
    for package in ("jupyterlab", "ipywidgets", "anywidget"):
        assert re.search(rf"^{package}\b", requirements, re.M), package


def test_post_build_is_an_executable_script_installing_the_package() -> None:
    post_build = BINDER / "postBuild"
    assert os.access(post_build, os.X_OK)
    assert "pip install" in post_build.read_text() and '-e ".[jac]"' in post_build.read_text()
    check = subprocess.run(["bash", "-n", str(post_build)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr


def test_binder_requirements_are_installed_here_too() -> None:
    code = "import jupyterlab, jupyter_server_proxy, ipywidgets, anywidget"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0

"""npm packages the tests need, installed from the registry into a folder of the checkout on first use."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

NPM_TIMEOUT = 300


def npm_install(folder: Path, probe: str) -> Path:
    """``folder/node_modules``, after ``npm install --prefix folder`` if ``probe`` (a path in it) is missing."""
    npm = shutil.which("npm")
    assert npm, "npm is not installed (tests need it): apt-get install -y nodejs npm"
    modules = folder / "node_modules"
    # One install at a time, even from pytest runs started side by side in this checkout:
    # the lock is on package.json itself, so no file is left behind.
    with (folder / "package.json").open() as package:
        fcntl.flock(package, fcntl.LOCK_EX)  # released when the file closes
        if not (modules / probe).is_file():
            command = [npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--no-progress"]
            result = subprocess.run(command, capture_output=True, text=True, timeout=NPM_TIMEOUT, cwd=folder)
            assert result.returncode == 0, f"npm install --prefix {folder.name} failed:\n{result.stdout}{result.stderr}"
    assert (modules / probe).is_file(), f"npm install --prefix {folder.name} did not install {probe}"
    return modules


def node() -> str:
    """The ``node`` program."""
    found = shutil.which("node")
    assert found, "node is not installed (tests need it): apt-get install -y nodejs npm"
    return found

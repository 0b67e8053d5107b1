"""The seed's Node.js client (examples/ws_client.mjs, the ws package) against a live server.

The ws package comes from the npm registry: the test installs it into ``examples/node_modules``
itself when it is missing (``npm install --prefix examples``), so ``python -m pytest`` needs only
Node.js and npm on the machine.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support import register_and_login

from jacws.server import Server

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
WS = EXAMPLES / "node_modules" / "ws" / "package.json"
NPM_TIMEOUT = 300


def ws_package() -> Path:
    """``examples/node_modules/ws``, installed from examples/package.json if it is not there yet."""
    npm = shutil.which("npm")
    assert npm, "npm is not installed (the Node.js example needs it): apt-get install -y nodejs npm"
    # One install at a time, even from pytest runs started side by side in this checkout:
    # the lock is on package.json itself, so no file is left behind.
    with (EXAMPLES / "package.json").open() as package:
        fcntl.flock(package, fcntl.LOCK_EX)  # released when the file closes
        if not WS.is_file():
            command = [npm, "install", "--prefix", str(EXAMPLES), "--no-audit", "--no-fund", "--no-progress"]
            result = subprocess.run(command, capture_output=True, text=True, timeout=NPM_TIMEOUT, cwd=EXAMPLES)
            assert result.returncode == 0, f"npm install --prefix examples failed:\n{result.stdout}{result.stderr}"
    assert WS.is_file(), "npm install --prefix examples did not install the ws package"
    return WS.parent


@pytest.mark.timeout(NPM_TIMEOUT + 120)
def test_the_ws_example_connects_with_the_authorization_header_and_gets_its_chat(server: Server) -> None:
    node = shutil.which("node")
    assert node, "node is not installed (the Node.js example needs it): apt-get install -y nodejs npm"
    ws_package()
    login = register_and_login(server.url, "node@example.com")
    env = {**os.environ, "JACWS_URL": server.ws_url, "JACWS_TOKEN": login["token"]}
    result = subprocess.run([node, "ws_client.mjs"], cwd=EXAMPLES, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    assert messages[0]["type"] == "connection"
    assert messages[0]["data"]["root_id"] == "n::" + login["user"]["root_id"]  # the header authenticated it
    assert {"type": "chat", "data": {"message": "string"}} in messages
    assert {"status": 200, "reports": []} in messages

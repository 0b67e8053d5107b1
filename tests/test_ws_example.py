"""The seed's Node.js client (examples/ws_client.mjs, the ws package) against a live server.

The ws package comes from the npm registry: the test installs it into ``examples/node_modules``
itself when it is missing (``npm install --prefix examples``), so ``python -m pytest`` needs only
Node.js and npm on the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from npm import NPM_TIMEOUT, node, npm_install
from support import register_and_login

from jacws.server import Server

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def ws_package() -> Path:
    """``examples/node_modules/ws``, installed from examples/package.json if it is not there yet."""
    return npm_install(EXAMPLES, "ws/package.json") / "ws"


@pytest.mark.timeout(NPM_TIMEOUT + 120)
def test_the_ws_example_connects_with_the_authorization_header_and_gets_its_chat(server: Server) -> None:
    ws_package()
    login = register_and_login(server.url, "node@example.com")
    env = {**os.environ, "JACWS_URL": server.ws_url, "JACWS_TOKEN": login["token"]}
    command = [node(), "ws_client.mjs"]
    result = subprocess.run(command, cwd=EXAMPLES, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    assert messages[0]["type"] == "connection"
    assert messages[0]["data"]["root_id"] == "n::" + login["user"]["root_id"]  # the header authenticated it
    assert {"type": "chat", "data": {"message": "string"}} in messages
    assert {"status": 200, "reports": []} in messages

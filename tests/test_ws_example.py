"""The seed's Node.js client (examples/ws_client.mjs, the ws package) against a live server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from support import register_and_login

from jacws.server import Server

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_the_ws_example_connects_with_the_authorization_header_and_gets_its_chat(server: Server) -> None:
    node = shutil.which("node")
    assert node, "node is not installed"
    assert (EXAMPLES / "node_modules" / "ws").is_dir(), "the ws package is missing: npm install --prefix examples"
    login = register_and_login(server.url, "node@example.com")
    env = {**os.environ, "JACWS_URL": server.ws_url, "JACWS_TOKEN": login["token"]}
    result = subprocess.run([node, "ws_client.mjs"], cwd=EXAMPLES, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    assert messages[0]["type"] == "connection"
    assert messages[0]["data"]["root_id"] == "n::" + login["user"]["root_id"]  # the header authenticated it
    assert {"type": "chat", "data": {"message": "string"}} in messages
    assert {"status": 200, "reports": []} in messages

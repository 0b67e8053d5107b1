"""Query values out of the log: the filter, and a real server's handshake and request lines."""

from __future__ import annotations

import logging

import httpx
import pytest
from support import TIMEOUT, WS

from jacws.redact import redact_query
from jacws.server import Server
from jacws.settings import Settings


def test_every_query_value_is_dropped_and_every_name_kept() -> None:
    assert redact_query('"WebSocket /websocket?channel_id=room-42&x=1" [accepted]') == (
        '"WebSocket /websocket?channel_id=…&x=…" [accepted]'
    )
    assert redact_query("/walkers") == "/walkers" and redact_query("why? because") == "why? because"


def test_a_server_logging_at_info_never_writes_a_channel_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with Server(Settings(port=0, log_level="info")) as server:
        with WS(server.ws_url, channel_id="secret-room-7f3a") as ws:
            ws.barrier()
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
            assert http.get("/walkers", params={"channel_id": "secret-room-7f3a"}).status_code == 200
    server_lines = [r.getMessage() for r in caplog.records if r.name.startswith(("uvicorn", "jacws"))]
    handshakes = [line for line in server_lines if "WebSocket /websocket" in line]
    assert handshakes and all("channel_id=…" in line for line in handshakes), handshakes
    assert not [line for line in server_lines if "secret-room-7f3a" in line]

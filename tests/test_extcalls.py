"""A simulated client's extension calls: join (with presence), leave, presence, and refusals as exceptions."""

from __future__ import annotations

import pytest

from jacws.errors import JacWSError
from jacws.server import Server


def test_a_simulated_client_watches_a_channel_and_asks_who_is_there(server: Server) -> None:
    watcher = server.client(channel_id="ext-lobby")
    comer = server.client(channel_id="ext-elsewhere")
    try:
        assert watcher.join(["ext-room"], presence=True) == ["ext-lobby", "ext-room"]
        assert comer.join(["ext-room"]) == ["ext-elsewhere", "ext-room"]
        joined = watcher.wait_for(lambda m: m.get("type") == "presence_join")
        assert joined["client_id"] == comer.client_id and joined["channel_id"] == "ext-room"
        people = {m["client_id"] for m in watcher.presence("ext-room")}
        assert people == {watcher.client_id, comer.client_id}
        with pytest.raises(JacWSError, match=r"presence refused: .* \(forbidden\)"):
            comer.presence("ext-lobby")
        assert comer.leave(["ext-room"]) == ["ext-elsewhere"]
        left = watcher.wait_for(lambda m: m.get("type") == "presence_leave")
        assert left["client_id"] == comer.client_id
    finally:
        watcher.close()
        comer.close()

"""Recovery after a reconnect (extension): offsets on channel messages, recover with no gap and no duplicate."""

from __future__ import annotations

from typing import Any

from support import WS, quiet

from jacws.server import Server
from jacws.settings import Limits, Settings


def offsets_ws(server: Server, channel_id: str) -> WS:
    """A client connected with ``?offsets=1``."""
    return WS(f"{server.ws_url}?offsets=1&channel_id={channel_id}")


def send(sender: WS, channel_id: str, n: int) -> None:
    sender.send({"type": "channel", "channel_ids": [channel_id], "data": {"n": n}})


def test_offsets_mode_wraps_channel_messages_and_jac_cloud_clients_see_no_difference(server: Server) -> None:
    with offsets_ws(server, "o-room") as modern, WS(server.ws_url, channel_id="o-room") as classic:
        send(classic, "o-room", 1)
        wrapped = modern.recv()
        assert wrapped["type"] == "channel_message" and wrapped["channel_id"] == "o-room"
        assert wrapped["data"] == {"n": 1} and isinstance(wrapped["offset"], int)
        assert classic.recv() == {"n": 1}  # unchanged for a jac-cloud client
        send(classic, "o-room", 2)
        assert modern.recv()["offset"] == wrapped["offset"] + 1
        classic.recv()


def test_a_client_recovers_all_50_missed_messages_in_order_then_live_ones_without_duplicates(server: Server) -> None:
    with WS(server.ws_url, channel_id="r-other") as sender:
        first = offsets_ws(server, "r-room")
        send(sender, "r-room", 0)
        last = first.recv()["offset"]
        first.close()
        for n in range(1, 51):  # while it is away
            send(sender, "r-room", n)
        sender.barrier()  # every one of them delivered (to nobody) and kept
        again = offsets_ws(server, "r-room")
        send(sender, "r-room", 51)  # live, before it asks to recover
        live = again.recv()
        assert live["data"] == {"n": 51}
        again.send({"type": "recover", "channel_id": "r-room", "since": last, "id": "rec"})
        recovered = [again.recv() for _ in range(50)]
        assert [m["data"]["n"] for m in recovered] == list(range(1, 51))
        assert [m["offset"] for m in recovered] == list(range(last + 1, last + 51))
        done = again.recv()
        assert done == {"type": "recovered", "channel_id": "r-room", "offset": last + 50, "complete": True, "id": "rec"}
        send(sender, "r-room", 52)
        assert again.recv()["data"] == {"n": 52}  # live again, nothing twice
        quiet(again)
        again.close()


def test_recovery_says_incomplete_once_the_history_dropped_some() -> None:
    settings = Settings(port=0, limits=Limits(history_size=10))
    with Server(settings) as small, WS(small.ws_url, channel_id="s-other") as sender:
        first = offsets_ws(small, "s-room")
        send(sender, "s-room", 0)
        last = first.recv()["offset"]
        first.close()
        for n in range(1, 26):
            send(sender, "s-room", n)
        sender.barrier()
        again = offsets_ws(small, "s-room")
        again.send({"type": "recover", "channel_id": "s-room", "since": last})
        got: list[dict[str, Any]] = []
        while (message := again.recv())["type"] == "channel_message":
            got.append(message)
        assert [m["data"]["n"] for m in got] == list(range(16, 26))  # the last ten kept
        assert message == {"type": "recovered", "channel_id": "s-room", "offset": last + 25, "complete": False}
        again.close()


def test_recover_is_for_members_and_checks_its_fields(server: Server) -> None:
    with offsets_ws(server, "m-room") as ws:
        ws.send({"type": "recover", "channel_id": "not-mine", "since": 0, "id": 1})
        error = ws.recv()
        assert error["code"] == "forbidden" and error["id"] == 1
        ws.send({"type": "recover", "channel_id": "m-room", "since": -1, "id": 2})
        error = ws.recv()
        assert error["code"] == "invalid_event" and error["details"][0]["loc"] == ["since"] and error["id"] == 2
        ws.send({"type": "recover", "channel_id": "m-room", "since": 0})
        assert ws.recv() == {"type": "recovered", "channel_id": "m-room", "offset": 0, "complete": True}

"""The seed's end-to-end chat scenario: two users and an anonymous client, over the socket and REST."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support import TIMEOUT, WS, quiet

from jacws.server import Server

pytestmark = pytest.mark.twin  # run again on the seed's own Jac file (examples/chat.jac)

CHAT = {"type": "chat", "data": {"message": "string"}}


class Room:
    """alice (one socket), bob (two sockets), and an anonymous guest, all on channel "group"."""

    def __init__(self, server: Server, users: dict[str, Any]) -> None:
        self.alice = WS(server.ws_url, token=users["alice"]["token"], channel_id="group")
        self.bob_phone = WS(server.ws_url, token=users["bob"]["token"], channel_id="group")
        self.bob_laptop = WS(server.ws_url, token=users["bob"]["token"], channel_id="elsewhere")
        self.guest = WS(server.ws_url, channel_id="group")
        self.everyone = [self.alice, self.bob_phone, self.bob_laptop, self.guest]
        self.http = httpx.Client(base_url=server.url, timeout=TIMEOUT)
        self.alice_auth = {"Authorization": f"Bearer {users['alice']['token']}"}

    def close(self) -> None:
        for client in self.everyone:
            client.close()
        self.http.close()


@pytest.fixture
def room(server: Server, users: dict[str, Any]) -> Iterator[Room]:
    r = Room(server, users)
    yield r
    r.close()


def test_send_chat_to_user_over_the_socket_reaches_all_of_bobs_clients_only(room: Room) -> None:
    answer = room.alice.call("send_chat_to_user", root_id=room.bob_phone.root_id)
    assert answer == {"status": 200, "reports": []}
    assert room.bob_phone.recv() == CHAT and room.bob_laptop.recv() == CHAT
    quiet(*room.everyone)


def test_send_chat_to_group_over_the_socket_reaches_the_channel_only(room: Room) -> None:
    room.alice.walker("send_chat_to_group", response=False, channel_id="group")
    assert room.alice.recv() == CHAT and room.bob_phone.recv() == CHAT and room.guest.recv() == CHAT
    quiet(*room.everyone)


def test_send_chat_to_client_over_the_socket_reaches_that_client_only(room: Room) -> None:
    assert room.alice.call("send_chat_to_client", client_id=room.guest.client_id)["status"] == 200
    assert room.guest.recv() == CHAT
    quiet(*room.everyone)


def test_the_chat_walkers_over_rest_reach_the_same_sockets(room: Room) -> None:
    def post(walker: str, body: dict[str, str]) -> None:
        answer = room.http.post(f"/walker/{walker}", json=body, headers=room.alice_auth)
        assert answer.json() == {"status": 200, "reports": []}

    post("send_chat_to_user", {"root_id": room.bob_laptop.root_id.removeprefix("n::")})
    assert room.bob_phone.recv() == CHAT and room.bob_laptop.recv() == CHAT
    post("send_chat_to_group", {"channel_id": "elsewhere"})
    assert room.bob_laptop.recv() == CHAT
    post("send_chat_to_client", {"client_id": room.bob_phone.client_id})
    assert room.bob_phone.recv() == CHAT
    quiet(*room.everyone)


def test_the_guest_needs_to_log_in_for_the_chat_walkers_and_can_with_change_user(
    room: Room, users: dict[str, Any]
) -> None:
    room.guest.walker("send_chat_to_group", request_id=1, channel_id="group")
    assert room.guest.recv()["code"] == "auth_required"
    room.guest.send({"type": "change_user", "token": f"Bearer {users['carol']['token']}"})
    assert room.guest.recv()["data"]["client_id"] == room.guest.client_id
    room.guest.walker("send_chat_to_group", response=False, channel_id="group")
    assert room.guest.recv() == CHAT and room.alice.recv() == CHAT and room.bob_phone.recv() == CHAT
    quiet(*room.everyone)

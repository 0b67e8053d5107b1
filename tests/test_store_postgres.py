"""Two jacws servers sharing a real PostgreSQL: users, tokens, revocations and graphs are shared."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from services import PostgresServer
from support import TIMEOUT, WS, register_and_login
from test_store import fresh_database

from jacws.auth import new_secret
from jacws.protocol import PUBLIC_ROOT_ID
from jacws.server import Server
from jacws.settings import Settings


@pytest.fixture
def pair(postgres_server: PostgresServer) -> Iterator[tuple[Server, Server]]:
    settings = Settings(port=0, db=fresh_database(postgres_server), secret=new_secret(), sync_seconds=0.5)
    a, b = Server(settings).start(), Server(settings).start()
    yield a, b
    a.stop()
    b.stop()


def test_a_user_registered_on_one_server_logs_in_on_the_other(pair: tuple[Server, Server]) -> None:
    a, b = pair
    with httpx.Client(timeout=TIMEOUT) as http:
        assert (
            http.post(a.url + "/user/register", json={"email": "pg@example.com", "password": "pg-password"}).status_code
            == 201
        )
        assert (
            http.post(b.url + "/user/register", json={"email": "pg@example.com", "password": "other-pass"}).status_code
            == 409
        )
        login = http.post(b.url + "/user/login", json={"email": "pg@example.com", "password": "pg-password"})
    assert login.status_code == 200
    with WS(a.ws_url, token=login.json()["token"]) as ws:
        assert ws.root_id == "n::" + login.json()["user"]["root_id"]


def test_a_graph_written_through_one_server_is_read_through_the_other(pair: tuple[Server, Server]) -> None:
    a, b = pair
    login = register_and_login(a.url, "graph-pg@example.com")
    with WS(a.ws_url, token=login["token"]) as on_a:
        note = on_a.call("t_private_note", text="in postgres")["reports"][0]
    with WS(b.ws_url, token=login["token"]) as on_b:
        assert on_b.call("t_notes")["reports"] == [[{"text": "in postgres", "likes": 0}]]
        on_b.send({"type": "walker", "walker": "t_like", "node": note["id"], "response": True})
        assert on_b.recv()["reports"][0]["context"]["likes"] == 1


def test_a_token_revoked_on_one_server_is_refused_on_all_within_five_seconds(pair: tuple[Server, Server]) -> None:
    a, b = pair
    login = register_and_login(a.url, "revoked-pg@example.com")
    bearer = {"Authorization": f"Bearer {login['token']}"}
    with WS(b.ws_url, token=login["token"]) as open_on_b, httpx.Client(timeout=TIMEOUT) as http:
        assert http.post(a.url + "/user/logout", headers=bearer).status_code == 200
        assert open_on_b.recv(timeout=5)["data"]["root_id"] == PUBLIC_ROOT_ID
        assert http.post(b.url + "/walker/t_notes", headers=bearer).status_code == 401
    with WS(b.ws_url, token=login["token"]) as new_on_b:
        assert new_on_b.root_id == PUBLIC_ROOT_ID

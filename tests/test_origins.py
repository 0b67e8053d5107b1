"""Host, Origin and Content-Type checks over real sockets: other pages and other names are refused."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson
import pytest
from support import TIMEOUT, WS
from websockets.exceptions import InvalidStatus

from jacws.origins import host_rule
from jacws.server import Server
from jacws.settings import Settings


@pytest.fixture(scope="module")
def guarded() -> Iterator[Server]:
    server = Server(Settings(port=0)).start()
    yield server
    server.stop()


def _refusal(refused: pytest.ExceptionInfo[InvalidStatus]) -> tuple[int, str]:
    return refused.value.response.status_code, orjson.loads(refused.value.response.body)["code"]


def _registered(server: Server, email: str) -> bool:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        return http.post("/user/register", json={"email": email, "password": "s3cret-pass"}).status_code == 409


def test_a_page_from_another_origin_can_neither_open_a_socket_nor_post(guarded: Server) -> None:
    with pytest.raises(InvalidStatus) as refused:
        WS(guarded.ws_url, additional_headers={"Origin": "https://evil.example"})
    assert _refusal(refused) == (403, "origin_not_allowed")
    with WS(guarded.ws_url, additional_headers={"Origin": guarded.url}) as own_page:  # the server's own page
        own_page.barrier()
    with WS(guarded.ws_url) as not_a_browser:  # no Origin: a program, not a page
        not_a_browser.barrier()
    with httpx.Client(base_url=guarded.url, timeout=TIMEOUT) as http:
        body = {"email": "csrf@example.com", "password": "s3cret-pass"}
        answer = http.post("/user/register", json=body, headers={"Origin": "https://evil.example"})
        assert answer.status_code == 403 and answer.json()["code"] == "origin_not_allowed"
        echo = http.post("/walker/t_echo", json={"value": 1}, headers={"Origin": "https://evil.example"})
        assert echo.status_code == 403
    assert not _registered(guarded, "csrf@example.com")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]
)
def test_bodies_that_any_page_may_send_without_asking_are_refused(guarded: Server, content_type: str | None) -> None:
    email = f"simple-{str(content_type)[:5]}@example.com"
    body = orjson.dumps({"email": email, "password": "s3cret-pass"})
    headers = {"Content-Type": content_type} if content_type else {}
    with httpx.Client(base_url=guarded.url, timeout=TIMEOUT) as http:
        answer = http.post("/user/register", content=body, headers=headers)
        assert answer.status_code == 415
        assert answer.json() == {"error": "send the request body as application/json", "code": "unsupported_media_type"}
        walker = http.post("/walker/t_echo", content=b'{"value": 1}', headers=headers)
        assert walker.status_code == 415
        typed = http.post(
            "/walker/t_echo", content=b'{"value": 1}', headers={"Content-Type": "application/json; charset=utf-8"}
        )
        assert typed.status_code == 200
    assert not _registered(guarded, email)


def test_a_foreign_host_name_is_refused_so_dns_rebinding_reaches_nothing(guarded: Server) -> None:
    port = guarded.port
    with httpx.Client(base_url=guarded.url, timeout=TIMEOUT) as http:
        rebound = http.get("/healthz", headers={"Host": f"evil.example:{port}"})
        assert rebound.status_code == 403
        assert rebound.json() == {
            "error": "this server does not answer to the name 'evil.example'",
            "code": "host_not_allowed",
        }
        for name in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "localhost"):
            assert http.get("/healthz", headers={"Host": name}).status_code == 200, name
    with pytest.raises(InvalidStatus) as refused:
        WS(guarded.ws_url, additional_headers={"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"})
    assert _refusal(refused) == (403, "host_not_allowed")


def test_listed_origins_and_hosts_are_let_in_and_get_cors_answers() -> None:
    settings = Settings(port=0, allowed_origins=("https://app.example.com",), allowed_hosts=("jacws.internal",))
    with Server(settings) as server, httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        app = {"Origin": "https://app.example.com"}
        with WS(server.ws_url, additional_headers=app) as page:
            page.barrier()
        preflight = http.options(
            "/walker/t_echo",
            headers={**app, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
        call = http.post("/walker/t_echo", json={"value": 3}, headers=app)
        assert call.status_code == 200 and call.headers["access-control-allow-origin"] == "https://app.example.com"
        other = http.post("/walker/t_echo", json={"value": 3}, headers={"Origin": "https://other.example.com"})
        assert other.status_code == 403
        assert http.get("/healthz", headers={"Host": "jacws.internal"}).status_code == 200
        assert http.get("/healthz", headers={"Host": "evil.example"}).status_code == 403


def test_which_names_a_server_answers_to_depends_on_where_it_listens() -> None:
    assert host_rule("127.0.0.1", None, {}) == frozenset()  # loopback names only
    assert host_rule("::1", None, {}) == frozenset()
    assert host_rule("0.0.0.0", None, {}) is None  # a public server: its names are its own to list
    assert host_rule("127.0.0.1", None, {"JUPYTERHUB_SERVICE_PREFIX": "/user/a/"}) is None  # behind the hub's proxy
    assert host_rule("0.0.0.0", ["App.Example.com"], {}) == frozenset({"app.example.com"})
    assert host_rule("127.0.0.1", ["*"], {}) is None


def test_only_walkers_that_take_files_accept_forms_and_only_from_their_own_pages(guarded: Server) -> None:
    upload = {"file": ("x.txt", b"x", "text/plain")}
    with httpx.Client(base_url=guarded.url, timeout=TIMEOUT) as http:
        foreign = http.post("/walker/t_uploads", files=upload, headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403 and foreign.json()["code"] == "origin_not_allowed"
        assert http.post("/walker/t_echo", files=upload).status_code == 415  # no file fields: JSON only
        assert http.post("/walker/t_uploads", files={"files": ("x.txt", b"x")}).status_code == 200

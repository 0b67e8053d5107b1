"""The browser-reachable URL of the in-kernel server, with and without jupyter-server-proxy."""

from __future__ import annotations

from jacws.proxy import browser_url
from jacws.server import Server


def test_behind_jupyterhub_the_url_is_a_proxy_path() -> None:
    env = {"JUPYTERHUB_SERVICE_PREFIX": "/user/ann-abc123/"}
    assert browser_url(8123, environ=env) == "/user/ann-abc123/proxy/8123/"
    assert browser_url(8123, "walkers", environ=env) == "/user/ann-abc123/proxy/8123/walkers"


def test_elsewhere_it_is_the_plain_loopback_url() -> None:
    assert browser_url(8123, environ={}) == "http://127.0.0.1:8123/"
    assert browser_url(8123, "/websocket", environ={}) == "http://127.0.0.1:8123/websocket"


def test_a_running_server_knows_its_browser_url(server: Server) -> None:
    assert server.browser_url("/walkers").endswith(f":{server.port}/walkers")

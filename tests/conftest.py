"""Shared fixtures: one real jacws server for the suite, and logged-in users."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sample_walkers  # noqa: F401 - registers the test walkers
from support import register_and_login

from jacws.cli import load_walkers
from jacws.server import Server
from jacws.settings import Settings

if TYPE_CHECKING:  # the browser and service helpers load only for the tests that use them
    from playwright.sync_api import Browser
    from services import PostgresServer, RedisClusterServers, RedisServer

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
"""Screenshots the browser tests leave for CI to keep."""
load_walkers(ROOT / "examples" / "chat.py")

JAC = sys.version_info >= (3, 12) and importlib.util.find_spec("jaclang") is not None
"""jaclang is here: the Jac tests run (test_jac_env.py runs them from older Pythons, in a venv of their own)."""
if JAC and os.environ.get("JACWS_TWINS") == "jac":
    # The seed's chat walkers and the twin-marked tests' walkers, written in Jac, replace the Python ones.
    from jacws import registry
    from jacws.jac import JacWalker, load_jac

    twins = [*load_jac(ROOT / "examples" / "chat.jac"), *load_jac(ROOT / "tests" / "jac_twins.jac")]
    assert len(twins) == 9 and all(registry.get(w.__name__) is w for w in twins)
    assert all(issubclass(w, JacWalker) for w in twins)

collect_ignore = [] if JAC else ["test_jac.py"]


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """A real server on 127.0.0.1 and a free port, shared by the tests that need no special settings."""
    srv = Server(Settings(port=0, ping_interval=None)).start()  # keepalive has its own test
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def users(server: Server) -> dict[str, dict[str, Any]]:
    """Three registered, logged-in users: their login answers by name."""
    return {name: register_and_login(server.url, f"{name}@example.com") for name in ("alice", "bob", "carol")}


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on a free port, for one test module."""
    from services import RedisServer

    redis = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield redis
    redis.kill()


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    """A real three-primary Redis Cluster on free ports, for one test module."""
    from services import RedisClusterServers

    cluster = RedisClusterServers(tmp_path_factory.mktemp("redis-cluster")).start()
    yield cluster
    cluster.kill()


@pytest.fixture(params=["single", "cluster"])
def redis_url(request: pytest.FixtureRequest) -> str:
    """The URL of a real single Redis, then of a real Redis Cluster: a test taking it runs on both."""
    service = request.getfixturevalue("redis_server" if request.param == "single" else "redis_cluster")
    url: str = service.url
    return url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL cluster on a free port, for the whole run."""
    from services import PostgresServer

    postgres = PostgresServer().start()
    yield postgres
    postgres.remove()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (no browser download).

    Module scope: Playwright's sync API keeps an event loop running on the main thread while
    it is open, which would break the asyncio.run of later tests.
    """
    from jupyter import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "chromium is not installed: apt-get install -y chromium"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()

"""Shared fixtures: one real jacws server for the suite, and logged-in users."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sample_walkers  # noqa: F401 - registers the test walkers
from services import PostgresServer, RedisServer
from support import register_and_login

from jacws.cli import load_walkers
from jacws.server import Server
from jacws.settings import Settings

ROOT = Path(__file__).resolve().parent.parent

load_walkers(ROOT / "examples" / "chat.py")


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
    redis = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield redis
    redis.kill()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL cluster on a free port, for the whole run."""
    postgres = PostgresServer().start()
    yield postgres
    postgres.remove()

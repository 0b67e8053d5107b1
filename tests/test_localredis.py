"""The throwaway local Redis: it answers, it stops, and it never outlives the process that started it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import redis

import jacws
from jacws.localredis import LocalRedis


def test_start_redis_answers_and_stops() -> None:
    local = jacws.start_redis()
    try:
        client = redis.Redis.from_url(local.url, socket_timeout=5)
        assert client.ping() and client.set("k", "v") and client.get("k") == b"v"
        client.close()
    finally:
        local.stop()
    client = redis.Redis.from_url(local.url, socket_timeout=5, socket_connect_timeout=5)
    with pytest.raises(redis.ConnectionError):
        client.ping()
    client.close()


def test_a_missing_binary_says_how_to_install_it() -> None:
    with pytest.raises(jacws.JacWSError, match="no-such-redis-server is not on the PATH: apt-get install redis-server"):
        LocalRedis(binary="no-such-redis-server")


def test_redis_goes_with_a_process_that_is_killed() -> None:
    code = "import jacws, sys; r = jacws.start_redis(); print(r.process.pid, flush=True); sys.stdin.read()"
    with subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not gone(child, timeout=0)
        parent.send_signal(signal.SIGKILL)  # no atexit, no clean-up: only the kernel's death signal is left
        parent.wait(timeout=10)
        assert gone(child, timeout=10), f"redis-server {child} outlived the process that started it"


def gone(pid: int, timeout: float) -> bool:
    """Whether ``pid`` has exited (or does within ``timeout`` s); it is not our child, so /proc is watched."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":  # exited, waiting for its reaper
                    return True
        except FileNotFoundError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)  # a foreign process's exit has no event to wait on


def test_a_taken_port_is_an_error_not_another_redis() -> None:
    first = jacws.start_redis()
    try:
        with pytest.raises(jacws.JacWSError, match="did not start"):
            LocalRedis(port=first.port).start(timeout=5)
    finally:
        first.stop()


def test_a_stopped_redis_starts_again() -> None:
    local = jacws.start_redis()
    local.stop()
    local.start()
    try:
        client = redis.Redis.from_url(local.url, socket_timeout=5)
        assert client.ping()
        client.close()
    finally:
        local.stop()

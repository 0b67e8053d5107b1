"""Real Redis and PostgreSQL servers for the tests, each in a temporary folder on a free port.

CI installs both with apt-get; a missing binary fails the test that needs it, loudly.
"""

from __future__ import annotations

import glob
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_cluster_port() -> int:
    """A free port of at most 55535 whose cluster bus port (10000 above it, Redis Cluster's rule) is free too."""
    while True:
        port = free_port()
        if port > 55535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def _wait_for_line(process: subprocess.Popen[str], marker: str, what: str) -> threading.Thread:
    """Read the process's output in a thread until ``marker`` appears; return the reading thread."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise RuntimeError(f"{what} did not start:\n" + "".join(seen)) from None
        if line is None:
            raise RuntimeError(f"{what} exited:\n" + "".join(seen))
        seen.append(line)
        if marker in line:
            return reader


def _finish(process: subprocess.Popen[str], reader: threading.Thread | None) -> None:
    """After the process ended: let its output reader reach the end, then close the pipe."""
    process.wait(timeout=20)
    if reader is not None:
        reader.join(10)
    if process.stdout is not None:
        process.stdout.close()


class RedisServer:
    """``redis-server`` on 127.0.0.1; :meth:`kill` and :meth:`start` again keep the port."""

    def __init__(self, folder: Path, options: list[str] | None = None, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed: apt-get install -y redis-server"
        self.binary = binary
        self.folder = folder
        self.options = options or []
        self.port = port or free_port()
        self.process: subprocess.Popen[str] | None = None
        self.reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        command = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.folder), "--daemonize", "no", *self.options,
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reader = _wait_for_line(self.process, "Ready to accept connections", "redis-server")
        return self

    def pause(self) -> None:
        """Stop answering without closing a connection (SIGSTOP), as a stalled server or a partitioned
        network does; :meth:`resume` goes on."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Go on after :meth:`pause` (SIGCONT)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """Stop at once, as a crash would (SIGKILL)."""
        if self.process is not None:
            self.process.kill()
            _finish(self.process, self.reader)
            self.process = None


class RedisClusterServers:
    """A Redis Cluster of ``size`` primaries (``redis-server --cluster-enabled``, each on a free port, the slots
    shared out by ``redis-cli --cluster create``), no replicas, nothing saved."""

    def __init__(self, folder: Path, size: int = 3) -> None:
        self.nodes = []
        for index in range(size):
            node_folder = folder / f"node{index}"
            node_folder.mkdir()
            options = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
            self.nodes.append(RedisServer(node_folder, options, free_cluster_port()))
        cli = shutil.which("redis-cli")
        assert cli, "redis-cli is not installed: apt-get install -y redis-server (it brings redis-tools)"
        self.cli = cli

    @property
    def url(self) -> str:
        """The URL of the first node (a client finds the others from it)."""
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def start(self) -> RedisClusterServers:
        try:
            return self._start()
        except BaseException:
            self.kill()  # no node outlives a cluster that did not come up
            raise

    def _start(self) -> RedisClusterServers:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        create = [self.cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"]
        result = subprocess.run(create, capture_output=True, text=True, timeout=START_TIMEOUT, check=False)
        assert result.returncode == 0, f"redis-cli --cluster create failed:\n{result.stdout}{result.stderr}"
        deadline = time.monotonic() + START_TIMEOUT
        for node in self.nodes:  # every node must agree the cluster is whole before clients use it
            while "cluster_state:ok" not in self._ask(node, "cluster", "info"):
                assert time.monotonic() < deadline, f"the cluster did not settle: {self._ask(node, 'cluster', 'info')}"
                time.sleep(0.05)
        return self

    def _ask(self, node: RedisServer, *command: str) -> str:
        answer = subprocess.run(
            [self.cli, "-p", str(node.port), *command], capture_output=True, text=True, timeout=10, check=False
        )
        return answer.stdout

    def move_slot(self, key: bytes) -> int:
        """Move the slot of ``key``, with its keys, to another primary, as resharding does (IMPORTING,
        MIGRATING, MIGRATE, then SETSLOT NODE everywhere); the port of its new primary."""
        import redis
        from redis.cluster import RedisCluster

        with RedisCluster.from_url(self.url) as cluster:
            slot = cluster.keyslot(key)
            owner = int(cluster.nodes_manager.get_node_from_slot(slot).port)
        clients = {node.port: redis.Redis(port=node.port) for node in self.nodes}
        try:
            ids = {port: client.execute_command("CLUSTER MYID").decode() for port, client in clients.items()}
            target = next(port for port in clients if port != owner)
            clients[target].execute_command("CLUSTER SETSLOT", slot, "IMPORTING", ids[owner])
            clients[owner].execute_command("CLUSTER SETSLOT", slot, "MIGRATING", ids[target])
            while keys := clients[owner].execute_command("CLUSTER GETKEYSINSLOT", slot, 100):
                clients[owner].migrate("127.0.0.1", target, keys, 0, 5000)
            for client in clients.values():
                client.execute_command("CLUSTER SETSLOT", slot, "NODE", ids[target])
        finally:
            for client in clients.values():
                client.close()
        return target

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    path = found[-1] if found else shutil.which(name)
    assert path, f"PostgreSQL's {name} is not installed: apt-get install -y postgresql"
    return path


class PostgresServer:
    """A throwaway PostgreSQL cluster (``initdb`` + ``postgres``) with trust auth on 127.0.0.1."""

    def __init__(self) -> None:
        # Directly under the system temp folder: pytest's tmp_path is private to root, and
        # PostgreSQL runs as its own user when the tests run as root.
        self.folder = Path(tempfile.mkdtemp(prefix="jacws-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None
        self.reader: threading.Thread | None = None
        self._as_postgres = hasattr(os, "geteuid") and os.geteuid() == 0  # initdb refuses to run as root

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_user(self) -> dict[str, str]:
        return {"user": "postgres", "group": "postgres"} if self._as_postgres else {}

    def start(self) -> PostgresServer:
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        if not self.data.exists():
            subprocess.run(
                [_postgres_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"],
                check=True, capture_output=True, timeout=120, cwd=self.folder, **self._as_user(),
            )  # fmt: skip
        command = [
            _postgres_bin("postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.folder),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=self.folder, **self._as_user()
        )
        self.reader = _wait_for_line(self.process, "database system is ready to accept connections", "postgres")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
            _finish(self.process, self.reader)
            self.process = None

    def remove(self) -> None:
        """Stop and delete the cluster."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

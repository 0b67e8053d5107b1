"""``jacws serve FILE``: serve the walkers declared in a Python file."""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import logging
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from .addresses import Networks
from .auth import check_secret
from .errors import JacWSError
from .reload import serve_with_reload
from .runtime import build
from .server import bind_socket
from .settings import Settings, load_or_create_secret, read_secret_file
from .shipped import Outcome, copy_files, example_path, examples, tutorial_title, tutorials
from .stores import store_location
from .walker_files import load_file, load_walkers
from .walkers import registry

__all__ = ["load_walkers", "main", "playground_command"]

log = logging.getLogger("jacws")

QUICKSTART = "01_quickstart.ipynb"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jacws", description="jac-cloud WebSocket server for Python and Jac walkers")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the walkers in a Python or Jac file")
    serve.add_argument("file", nargs="?", help="a Python file declaring walkers, or a .jac file (needs jacws[jac])")
    serve.add_argument(
        "--example",
        default=None,
        metavar="NAME",
        help="serve a shipped example instead: chat, chat.jac (see jacws examples)",
    )
    serve.add_argument("--host", default=None, help="interface to listen on (default 127.0.0.1, env JACWS_HOST)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000, env JACWS_PORT)")
    serve.add_argument("--db", default=None, help="SQLite file or store URL (default: in memory, env JACWS_DB)")
    serve.add_argument(
        "--secret-file",
        default=None,
        metavar="PATH",
        help="a file holding the JWT secret, 32 bytes or more (env JACWS_SECRET_FILE or JACWS_SECRET; "
        "default: generated and kept beside --db)",
    )
    serve.add_argument("--secret", default=None, help=argparse.SUPPRESS)  # visible in ps: --secret-file instead
    serve.add_argument("--policy", choices=["open", "authenticated"], default=None, help="publish policy")
    serve.add_argument("--redis-url", default=None, help="redis://HOST:PORT shared by every process (JACWS_REDIS_URL)")
    serve.add_argument("--workers", type=int, default=1, help="server processes on this port (needs --redis-url)")
    serve.add_argument(
        "--reload",
        action="store_true",
        help="restart when the file, or a .py or .jac file next to it, changes (for development; clients see 1012)",
    )
    serve.add_argument("--log-level", default=None, help="debug, info, warning (default info)")
    serve.add_argument(
        "--trusted-proxy",
        action="append",
        default=None,
        metavar="ADDRESS",
        help="a reverse proxy (address or network) whose X-Forwarded-For names the client; repeatable "
        "(env JACWS_TRUSTED_PROXIES, comma-separated)",
    )
    serve.add_argument(
        "--allowed-origin",
        action="append",
        default=None,
        metavar="ORIGIN",
        help="a web page origin (https://app.example.com) that may use this server from a browser; repeatable "
        "(env JACWS_ALLOWED_ORIGINS)",
    )
    serve.add_argument(
        "--allowed-host",
        action="append",
        default=None,
        metavar="NAME",
        help="a name clients reach this server by (checked in Host; default: loopback names on a loopback "
        "interface, any name otherwise); repeatable (env JACWS_ALLOWED_HOSTS)",
    )
    playground = commands.add_parser(
        "playground",
        help="open the tutorial notebooks in JupyterLab (extra arguments go to jupyter lab)",
    )
    playground.add_argument(
        "--notebooks",
        default=None,
        help="a folder of notebooks to open as it is (default: ./notebooks in a checkout, else the copy in --dir)",
    )
    playground.add_argument(
        "--dir", default="jacws-tutorials", help="where the shipped tutorials are copied (default ./jacws-tutorials)"
    )
    playground.add_argument("--list", action="store_true", help="name the tutorials and exit")
    playground.add_argument(
        "--notebook", default=QUICKSTART, help="the notebook to open first (default the quickstart)"
    )
    examples = commands.add_parser("examples", help="name the shipped examples, or copy them out for editing")
    examples.add_argument("--copy", default=None, metavar="DIR", help="copy them into DIR (kept if you changed them)")
    return parser


def playground_command(notebooks: str, notebook: str, extra: Sequence[str]) -> list[str]:
    """The ``jupyter lab`` command line that opens ``notebook`` in ``notebooks``.

    Raises:
        FileNotFoundError: the notebook is not there.
    """
    folder = Path(notebooks).resolve()
    if not (folder / notebook).is_file():
        raise FileNotFoundError(f"no {notebook} in {folder} (jacws playground --list names the tutorials)")
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={folder}", str(folder / notebook)]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in extra:
        command.append("--allow-root")  # containers and CI often run as root
    return [*command, *extra]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args, extra = _parser().parse_known_args(argv)
    if args.command == "playground":
        return _playground(args, extra)
    if args.command == "examples":
        return _examples(args.copy)
    if extra:
        print(f"jacws: unrecognized arguments: {' '.join(extra)}", file=sys.stderr)
        return 2
    if args.secret:
        print(
            "jacws: warning: --secret shows in every user's process list; use --secret-file or JACWS_SECRET",
            file=sys.stderr,
        )
    try:
        secret = read_secret_file(args.secret_file) if args.secret_file else args.secret
        settings = Settings.from_env(
            host=args.host,
            port=args.port,
            db=args.db,
            secret=secret,
            policy=args.policy,
            redis_url=args.redis_url,
            log_level=args.log_level,
            trusted_proxies=tuple(args.trusted_proxy) if args.trusted_proxy else None,
            allowed_origins=tuple(args.allowed_origin) if args.allowed_origin else None,
            allowed_hosts=tuple(args.allowed_host) if args.allowed_host else None,
        )
    except ValueError as error:
        print(f"jacws: {error}", file=sys.stderr)
        return 2
    if args.log_level is None and "JACWS_LOG_LEVEL" not in os.environ:
        settings = settings.with_changes(log_level="info")  # a server says what it does by default
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s: %(name)s: %(message)s")
    try:
        args.file = _served_file(args.file, args.example)
    except (ValueError, FileNotFoundError) as error:
        print(f"jacws: {error}", file=sys.stderr)
        return 2
    jac = Path(args.file).suffix == ".jac"
    try:
        if args.workers > 1 and jac:  # before loading jaclang, which takes a while
            raise ValueError(
                "Jac walkers run in one process: jaclang caches its graph in the process that serves it "
                "(drop --workers)"
            )
        if args.reload and args.workers > 1:
            raise ValueError("--reload serves one process: drop --workers")
        if args.reload:  # each server process loads the file afresh; this one only watches it
            if not Path(args.file).is_file():
                raise FileNotFoundError(f"no such walker file: {args.file}")
            settings = _check_deployment(settings, 1)
            sock = bind_socket(settings.host, settings.port)
            log.info("serving %s on http://%s:%d, reloading on changes", args.file, settings.host, settings.port)
            return serve_with_reload(args.file, jac, settings, sock)
        source = load_file(args.file, jac)
        settings = _check_deployment(settings, args.workers)
        sock = bind_socket(settings.host, settings.port)
    except (JacWSError, OSError, ImportError, ValueError) as error:
        print(f"jacws: {error}", file=sys.stderr)
        return 2
    _raise_open_file_limit()
    served = ", ".join(cls.__name__ for cls in registry.served()) or "no walkers"
    log.info("serving %s from %s on http://%s:%d", served, source, settings.host, settings.port)
    if args.workers > 1:
        return _supervise(settings, sock, args.workers)
    _serve(settings, sock)
    return 0


def _check_deployment(settings: Settings, workers: int) -> Settings:
    """Refuse settings that cannot work; settle the token secret every process must share.

    Raises:
        ValueError: with the reason and what to give instead.
    """
    where = store_location(settings.db)  # a ValueError naming an unknown scheme
    Networks(settings.trusted_proxies)  # a ValueError naming a mistyped proxy address
    if workers < 1:
        raise ValueError("--workers must be at least 1")
    if workers > 1 and not settings.redis_url:
        raise ValueError(
            "--workers > 1 needs --redis-url (or JACWS_REDIS_URL): each process knows only its own "
            "sockets, and Redis carries deliveries between them"
        )
    if workers > 1 and not where.shared:
        raise ValueError("--workers > 1 needs a shared store: --db FILE.db or --db postgresql://...")
    if settings.secret:
        check_secret(settings.secret, "given")
        return settings
    if where.kind == "server":
        raise ValueError(
            "a database server is shared by every jacws process: give them the same token secret "
            "with --secret-file or JACWS_SECRET"
        )
    secret, origin = load_or_create_secret(settings.db)
    log.info("token secret %s", origin)
    return settings.with_changes(secret=secret)


def _serve(settings: Settings, sock: socket.socket) -> None:
    """Run one server process in this process's main thread (signals stop it gracefully)."""
    server = build(settings)
    _tune_garbage_collector()
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the SIGINT it handled gracefully
        server.run(sockets=[sock])


def _supervise(settings: Settings, sock: socket.socket, workers: int) -> int:
    """Fork ``workers`` server processes sharing the listening socket; stop them on SIGINT or SIGTERM."""
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_serve, args=(settings, sock), name=f"jacws-worker-{n}") for n in range(workers)
    ]
    for process in processes:
        process.start()
    log.info("started %d worker processes", workers)

    def forward(signum: int, frame: object) -> None:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    failed = [p.name for p in processes if p.exitcode not in (0, -signal.SIGTERM, -signal.SIGINT)]
    if failed:
        log.error("worker processes failed: %s", ", ".join(failed))
        return 1
    return 0


GC_THRESHOLDS = (50_000, 50, 100)
"""Collector thresholds for a ``jacws serve`` process (Python's default first threshold is 700)."""


def _tune_garbage_collector() -> None:
    """Collect less often in a server process; it is the largest cost of accepting connections.

    Each connection allocates a few hundred objects, so with the default thresholds the
    collector runs every few connections and walks every live connection each time it
    reaches the older generations. Freezing what start-up allocated and raising the first
    threshold cuts that cost by about a third of a connect (see bench/RESULTS.md). Only
    for ``jacws serve``: an in-notebook server leaves the kernel's collector alone.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _raise_open_file_limit() -> None:
    """A server holds a socket per client: allow as many open files as the system permits."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _served_file(file: str | None, example: str | None) -> str:
    """The file ``jacws serve`` serves: the one given, or a shipped example's."""
    if (file is None) == (example is None):
        raise ValueError("give a walker file, or --example NAME (one of them)")
    return file if file is not None else str(example_path(str(example)))


def _playground(args: argparse.Namespace, extra: Sequence[str]) -> int:
    if args.list:
        for name in tutorials():
            print(f"{name:28} {tutorial_title(name)}")
        return 0
    if importlib.util.find_spec("jupyterlab") is None:
        print('jacws: JupyterLab is not installed: pip install "jacws[notebook]"', file=sys.stderr)
        return 2
    notebooks = args.notebooks
    if notebooks is None and (Path("notebooks") / QUICKSTART).is_file():
        notebooks = "notebooks"  # a jacws checkout: its own notebooks
    if notebooks is None:
        notebooks = args.dir
        _report_copies(copy_files("tutorials", Path(notebooks)), Path(notebooks), "tutorials")
    try:
        command = playground_command(notebooks, args.notebook, extra)
    except FileNotFoundError as error:
        print(f"jacws: {error}", file=sys.stderr)
        return 2
    os.execv(command[0], command)
    return 0  # pragma: no cover - execv does not return


def _examples(copy: str | None) -> int:
    if copy is None:
        for name in examples():
            print(name)
        return 0
    _report_copies(copy_files("examples", Path(copy)), Path(copy), "examples")
    return 0


def _report_copies(outcomes: dict[str, Outcome], folder: Path, what: str) -> None:
    """Say where the copies are, and which of the user's changed files were kept."""
    for name, outcome in outcomes.items():
        if outcome == "kept yours":
            print(f"jacws: kept your changed {folder / name} (delete it to get the shipped one)", file=sys.stderr)
    fresh = sum(1 for outcome in outcomes.values() if outcome in ("copied", "updated"))
    print(f"jacws: the {what} are in {folder.resolve()} ({fresh} copied or updated)", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``jacws serve FILE``: serve the walkers declared in a Python file."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from .app import Runtime, create_app
from .errors import JacWSError
from .server import UvicornServer, bind_socket, uvicorn_config
from .settings import Settings

__all__ = ["load_walkers", "main"]

log = logging.getLogger("jacws")


def load_walkers(path: str | Path) -> ModuleType:
    """Import a Python file; every walker class it defines joins the registry.

    Raises:
        FileNotFoundError: there is no such file.
    """
    file = Path(path).resolve()
    if not file.is_file():
        raise FileNotFoundError(f"no such walker file: {path}")
    name = file.stem if file.stem.isidentifier() else "jacws_walkers"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(file.parent))
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jacws", description="jac-cloud WebSocket server for Python walkers")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the walkers in a Python file")
    serve.add_argument("file", help="a Python file declaring walkers")
    serve.add_argument("--host", default=None, help="interface to listen on (default 127.0.0.1, env JACWS_HOST)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000, env JACWS_PORT)")
    serve.add_argument("--db", default=None, help="SQLite file or store URL (default: in memory, env JACWS_DB)")
    serve.add_argument("--secret", default=None, help="JWT secret (env JACWS_SECRET; default: kept beside --db)")
    serve.add_argument("--policy", choices=["open", "authenticated"], default=None, help="publish policy")
    serve.add_argument("--log-level", default=None, help="debug, info, warning (default info)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    settings = Settings.from_env(
        host=args.host,
        port=args.port,
        db=args.db,
        secret=args.secret,
        policy=args.policy,
        log_level=args.log_level or "info",
    )
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s: %(name)s: %(message)s")
    try:
        module = load_walkers(args.file)
        sock = bind_socket(settings.host, settings.port)
    except (JacWSError, OSError, ImportError) as error:
        print(f"jacws: {error}", file=sys.stderr)
        return 2
    runtime = Runtime(settings)
    served = ", ".join(cls.__name__ for cls in runtime.registry.served()) or "no walkers"
    log.info("serving %s from %s on http://%s:%d", served, module.__file__, settings.host, settings.port)
    server = UvicornServer(uvicorn_config(create_app(runtime), settings), runtime.hub)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the SIGINT it handled gracefully
        server.run(sockets=[sock])
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

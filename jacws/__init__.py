"""jacws: the jac-cloud WebSocket server in Python, with an in-notebook playground.

Walkers, nodes and the ``socket`` notify API come from the I/O-free core; the server
(``start``, ``Server``) is imported lazily so that ``import jacws`` stays light.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .errors import JacWSError
from .graph import Edge, Node, Root
from .walkers import Walker, on_entry, on_exit, registry, socket

if TYPE_CHECKING:
    from .forms import UploadFile
    from .jac import load_jac
    from .localredis import start_redis
    from .server import Server, start

__all__ = [
    "Edge",
    "JacWSError",
    "Node",
    "Root",
    "Server",
    "UploadFile",
    "Walker",
    "load_jac",
    "on_entry",
    "on_exit",
    "registry",
    "socket",
    "start",
    "start_redis",
]

__version__ = "0.1.0"

# A library's logs go where its user sends them: with no logging set up (a notebook), Python would
# print jacws's warnings (a slow consumer closed, say) under whatever cell runs; `jacws serve` sets up its own.
logging.getLogger("jacws").addHandler(logging.NullHandler())

_LAZY = {"start": "server", "Server": "server", "load_jac": "jac", "start_redis": "localredis", "UploadFile": "forms"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jacws' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)

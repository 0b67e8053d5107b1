"""Where a browser reaches the in-kernel server: directly, or through jupyter-server-proxy on Binder."""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["browser_url"]


def browser_url(port: int, path: str = "/", environ: Mapping[str, str] | None = None) -> str:
    """The URL (or, behind JupyterHub, the path) a browser uses to reach a server on ``port``.

    On Binder and JupyterHub (``JUPYTERHUB_SERVICE_PREFIX`` set) the kernel's loopback
    ports are reachable only through jupyter-server-proxy, at
    ``{prefix}proxy/{port}{path}``; the proxy strips that prefix, so ``/websocket`` and
    ``/walkers`` match. The answer is then a path a page resolves against its own
    location. Elsewhere it is ``http://127.0.0.1:{port}{path}``.
    """
    env = os.environ if environ is None else environ
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX")
    if not path.startswith("/"):
        path = "/" + path
    if prefix:
        return f"{prefix.rstrip('/')}/proxy/{port}{path}"
    return f"http://127.0.0.1:{port}{path}"

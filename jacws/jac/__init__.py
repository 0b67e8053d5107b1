"""Jac walkers: a ``.jac`` file's walkers join the registry and run on each user's own Jac root.

Needs the ``jac`` extra (jaclang, Python 3.12 or newer), imported only when Jac is loaded:
``import jacws`` never imports jaclang. A loaded Jac walker is a :class:`~jacws.Walker` like
any other (its ``has`` fields and ``__specs__`` drive the same routes, events, catalogue and
validation); only its walk differs: it runs inside jaclang, on the caller's Jac root.

- :mod:`.engine`: jaclang loaded once, with jacws's hooks, and the one thread Jac walkers run on;
- :mod:`.ids`: the ids clients see, Jac values as JSON;
- :mod:`.graph`: the Jac graph beside a store, and the gate between a walk and its commit;
- :mod:`.walker`: a Jac walker class as a jacws walker;
- :mod:`.loader`: ``load_jac`` and the ``%%jac`` cell magic.
"""

from __future__ import annotations

from ..errors import JacLoadError, JacUnavailable
from .engine import MISSING_MESSAGE
from .graph import CommitGate, JacGraph, close_graph, read_graph
from .loader import load_ipython_extension, load_jac
from .walker import JacWalker

__all__ = [
    "MISSING_MESSAGE",
    "CommitGate",
    "JacGraph",
    "JacLoadError",
    "JacUnavailable",
    "JacWalker",
    "close_graph",
    "load_ipython_extension",
    "load_jac",
    "read_graph",
]

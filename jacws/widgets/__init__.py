"""Playground widgets: thin views over :mod:`jacws.client`, :mod:`jacws.traffic` and the server.

- :class:`Playground`: the server panel, the flow view and a card per client.
- :class:`ClientCard`: one client's ids, timeline of sent and received events, and forms.
- :class:`FlowView`: the live sequence diagram.
- :class:`GraphView`: a client's user graph, live, with the path of the latest walk.
- :class:`ServerPanel`: the server's state, with stop and start, and :class:`MetricsCharts`, its live numbers.

Views never redraw from a client's thread or a cell: updates go through
:mod:`jacws.widgets.updates`, applied in batches by one display thread, so the playground
moves while a cell runs. ipywidgets ships without type information; this package is
the only code that uses it (``[[tool.mypy.overrides]]`` in ``pyproject.toml``).
"""

from __future__ import annotations

from .card import ENTRIES, ClientCard, fetch_walkers
from .charts import MetricsCharts
from .flow import FlowView
from .graph import GraphView
from .panel import ServerPanel
from .playground import Playground
from .updates import WIDGETS_LOCK, UpdateQueue

__all__ = [
    "ENTRIES",
    "WIDGETS_LOCK",
    "ClientCard",
    "FlowView",
    "GraphView",
    "MetricsCharts",
    "Playground",
    "ServerPanel",
    "UpdateQueue",
    "fetch_walkers",
]

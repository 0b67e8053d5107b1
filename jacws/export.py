"""A playground session written out: a Mermaid diagram, a JSONL log of frames, or a pytest module.

:func:`write` picks the form by the file's suffix:

- ``.md``: a Mermaid ``sequenceDiagram``, one participant per client plus the server and one
  arrow per message, labelled as in the flow view (GitHub and JupyterLab render it);
- ``.jsonl``: every frame sent and received, with its client, direction, time and what it answers;
- ``.py``: a pytest module replaying the clients' actions against a fresh server and asserting
  what each client received (ids, tokens and times normalised, :mod:`jacws.normalize`), with
  the walkers it needs (:mod:`jacws.sources`).
"""

from __future__ import annotations

import os
import pprint
import textwrap
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from .client import Client
from .errors import JacWSError
from .normalize import Normalizer, token_email
from .session import Recording, Step, record
from .sources import SourceUnavailable, collect_sources
from .traffic import SERVER, Flow, Traffic
from .walkers import WalkerRegistry
from .walkers import registry as default_registry

__all__ = ["SUFFIXES", "ExportError", "jsonl", "mermaid", "pytest_module", "write"]

SUFFIXES = (".md", ".jsonl", ".py")
"""The forms :func:`write` knows, by file suffix."""

_ANSWERS = ("response", "error", "connection")
WIDTH = 110
"""The longest line of a generated test."""
BODY = 4
"""The indentation of the test function's body (lines are made at column 0, then indented)."""


class ExportError(JacWSError):
    """A session cannot be written in the form asked for (an unknown suffix, nothing to replay, ...)."""


def write(
    path: str | Path, clients: Sequence[Client], traffic: Traffic | None = None, walkers: WalkerRegistry | None = None
) -> Path:
    """Write the session of ``clients`` to ``path`` in the form its suffix names; return the path.

    Args:
        path: a ``.md``, ``.jsonl`` or ``.py`` file (overwritten).
        clients: the session's clients.
        traffic: their flows (the playground's), for the diagram's labels; built from the clients if None.
        walkers: the registry the server serves (the process-wide one by default), for a ``.py`` export.

    Raises:
        ExportError: an unknown suffix, or (``.py``) nothing replayable or a walker whose source is missing.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".md":
        if traffic is None:
            traffic = Traffic(clients)
        text = mermaid(traffic.flows, [c.name for c in clients])
    elif suffix == ".jsonl":
        text = jsonl(clients)
    elif suffix == ".py":
        text = pytest_module(clients, walkers, target.parent)
    else:
        raise ExportError(f"cannot export to {target.name}: the suffix must be one of {', '.join(SUFFIXES)}")
    target.write_text(text, encoding="utf-8")
    return target


def _stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


# -- Mermaid -------------------------------------------------------------------------------


def mermaid(flows: Iterable[Flow], lanes: Sequence[str] = ()) -> str:
    """A Markdown page with the Mermaid ``sequenceDiagram`` of ``flows`` (``lanes``: clients in order)."""
    flows = list(flows)
    names: dict[str, str] = {SERVER: "S"}
    for lane in [*lanes, *(lane for flow in flows for lane in (flow.source, flow.target))]:
        if lane not in names:
            names[lane] = f"C{len(names)}"
    lines = ["sequenceDiagram", "    autonumber"]
    lines += [f"    participant {alias} as {_mermaid_text(lane)}" for lane, alias in names.items()]
    for flow in flows:
        arrow = "-->>" if flow.kind in _ANSWERS else "->>" if flow.target == SERVER else "-)"
        label = flow.label
        if flow.kind in ("channel", "user", "client") and flow.route:
            label = f"{label} · {flow.route}"
        lines.append(f"    {names[flow.source]}{arrow}{names[flow.target]}: {_mermaid_text(label)}")
    count = len(flows)
    head = [
        "## A jacws session",
        "",
        f"Exported from the playground on {_stamp()}: {len(names) - 1} clients and the server, "
        f"{count} message{'s' if count != 1 else ''}. Solid arrows are events a client sent, open arrows "
        "notifications the server pushed, dashed arrows answers.",
        "",
    ]
    return "\n".join([*head, "```mermaid", *lines, "```", ""])


def _mermaid_text(text: str, limit: int = 80) -> str:
    """Text Mermaid prints as it is: no line breaks, entity codes for what its parser reads."""
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    for char, code in (("#", "#35;"), (";", "#59;"), ("<", "#60;"), (">", "#62;"), ("%", "#37;")):
        text = text.replace(char, code)
    return text.replace("#35#59;", "#35;")  # (the '#' of a code just written is not escaped again)


# -- JSONL ---------------------------------------------------------------------------------


def jsonl(clients: Sequence[Client]) -> str:
    """One JSON line per frame, in time order: ``seq``, ``at``, ``client``, ``direction``, ``frame``,
    and for a received frame its ``route``, ``origin`` and the ``seq`` of the sent frame it ``answers``."""
    rows: list[tuple[float, int, dict[str, Any], tuple[str, int] | None]] = []
    for client in clients:
        for sent in client.sent:
            key = (sent.connection, sent.number) if sent.connection else None
            row: dict[str, Any] = {"client": client.name, "direction": "sent", "frame": sent.event}
            rows.append((sent.sent_at, 0, row, key))
        for message in client.inbox:
            cause = message.cause
            row = {
                "client": client.name,
                "direction": "received",
                "frame": message.data,
                "route": cause.route if cause is not None else message.kind,
                "origin": cause.origin if cause is not None else None,
            }
            if cause is not None and cause.walker:
                row["walker"] = cause.walker
            answered = (cause.trace_key, cause.event) if cause is not None and cause.trace_key and cause.event else None
            rows.append((message.received_at, 1, row, answered))
    rows.sort(key=lambda row: (row[0], row[1]))
    seq_of: dict[tuple[str, int], int] = {}
    lines = []
    for seq, (at, received, row, key) in enumerate(rows, 1):
        if not received and key is not None:
            seq_of[key] = seq
        if received:
            row["answers"] = seq_of.get(key) if key is not None else None
        lines.append(orjson.dumps({"seq": seq, "at": round(at, 6), **row}).decode())
    return "\n".join(lines) + ("\n" if lines else "")


# -- pytest --------------------------------------------------------------------------------


def pytest_module(clients: Sequence[Client], walkers: WalkerRegistry | None = None, folder: Path | None = None) -> str:
    """The source of a pytest module that replays the session of ``clients`` and checks what each received.

    Args:
        clients: the session's clients.
        walkers: the registry the server serves (the process-wide one by default).
        folder: where the module will live (walker files are named relative to it).

    Raises:
        ExportError: nothing to replay (a server elsewhere), or a walker whose source is missing.
    """
    recording = record(clients)
    if not recording.steps:
        raise ExportError("nothing to replay: a test can be exported from clients of a server running in this process")
    registry = walkers if walkers is not None else default_registry
    used = _walkers_used(recording, registry)
    try:
        sources = collect_sources(used)
    except SourceUnavailable as error:
        raise ExportError(f"cannot export a test: {error}") from None
    body = _replay_lines(recording)
    where = (folder or Path.cwd()).resolve()
    marker = [*sources.classes, *(_path_expression(path, where) for path in sources.files)]
    marker += [f"jac_source(JAC_{n}, name={name!r})" for n, (name, _) in enumerate(sources.jac, 1)]
    replay = "from jacws.testing import Replay" + (", jac_source" if sources.jac else "")
    plain = [line for line in sources.imports if line.startswith("import ")]
    named = sorted([line for line in sources.imports if line.startswith("from ")] + [replay])
    imports = [*(["from pathlib import Path"] if sources.files else []), "import pytest", *plain, "", *named]
    lines = [
        f'"""A jacws playground session replayed as a test (exported {_stamp()}).',
        "",
        "Each client's actions run again, in order, against a fresh in-memory server, and each client",
        "must receive what it received when the session was recorded (ids, tokens and times normalised).",
        "Run it with `pytest` (jacws's plugin gives the `jacws_client` fixture).",
        '"""',
        "",
        *imports,
        "",
    ]
    if sources.files:
        lines += ["HERE = Path(__file__).resolve().parent", ""]
    for n, (_, source) in enumerate(sources.jac, 1):
        lines += [f"JAC_{n} = {_python_text(source)}", ""]
    for code in sources.code:
        lines += ["", code, ""]
    walkers_given = ", ".join(marker) if len(marker) != 1 or not sources.classes else f"[{marker[0]}]"
    lines += ["", f"pytestmark = pytest.mark.jacws_walkers({walkers_given})", "", ""]
    lines += ["def test_the_session_replays_as_recorded(jacws_client) -> None:"]
    lines += [textwrap.indent(line, " " * BODY) for line in body]
    return "\n".join(lines).rstrip() + "\n"


def _walkers_used(recording: Recording, registry: WalkerRegistry) -> list[type]:
    names = []
    for step in recording.steps:
        if step.event is not None and step.event.get("type") == "walker":
            name = step.event.get("walker")
            if isinstance(name, str) and name not in names:
                names.append(name)
    return [cls for cls in (registry.get(name) for name in names) if cls is not None]


def _path_expression(path: Path, folder: Path) -> str:
    try:
        relative = Path(os.path.relpath(path, folder))
    except ValueError:  # another drive (Windows)
        return repr(str(path))
    parts = ", ".join(repr(part) for part in relative.parts)
    return f"HERE.joinpath({parts})"


def _python_text(text: str) -> str:
    if '"""' not in text and not text.endswith("\\"):
        return '"""' + text.replace("\\", "\\\\") + '"""'
    return repr(text)


def _literal(value: Any, indent: int) -> str:
    """``value`` as Python source starting at column ``indent`` (continuation lines indented to match)."""
    pad = " " * indent
    width = max(40, WIDTH - BODY - indent)
    return pprint.pformat(value, width=width, sort_dicts=False).replace("\n", "\n" + pad)


def _list_block(items: list[Any], indent: int) -> str:
    """A list written one item a line (or ``[]``), closing at column ``indent``."""
    if not items:
        return "[]"
    inner = indent + 4
    rows = [" " * inner + _literal(item, inner) + "," for item in items]
    return "[\n" + "\n".join(rows) + "\n" + " " * indent + "]"


def _call(function: str, args: list[str]) -> str:
    """``function(args)`` on one line if it fits, else one argument a line (arguments made for column 4)."""
    line = f"{function}({', '.join(args)})"
    if BODY + len(line) <= WIDTH and "\n" not in line:
        return line
    return f"{function}(\n" + "".join(f"    {arg},\n" for arg in args) + ")"


def _replay_lines(recording: Recording) -> list[str]:
    """The body of the test: connects and sends in order, then what each client must have received."""
    normalizer = Normalizer()
    identity = {id(client): client.initial_email for client in recording.clients}
    expected: dict[str, list[Any]] = {client.name: [] for client in recording.clients}
    connected: set[int] = set()
    lines = ["replay = Replay(jacws_client)"]
    for step in recording.steps:
        lines.append(_step_line(step, recording, normalizer, identity, connected))
        for effect in recording.effects_of(step):
            message, client = effect.message, effect.client
            if message.kind == "connection" and isinstance(message.data, dict):
                data = message.data.get("data")
                normalizer.connection(client.name, identity[id(client)], client.requested_channel, data)
            expected[client.name].append(normalizer.received(message.data))
    skipped: dict[str, int] = {}
    for effect in recording.unexplained:
        skipped[effect.client.name] = skipped.get(effect.client.name, 0) + 1
    if skipped:
        lines += [
            "",
            "# Not replayed (REST calls, the server's own notify_*, clients outside the session):",
            *(f"# {name} received {n} such message{'s' if n != 1 else ''}." for name, n in skipped.items()),
        ]
    for name, messages in expected.items():
        lines += ["", f"assert replay.received({name!r}) == " + _list_block(messages, 0)]
    return lines


def _step_line(
    step: Step, recording: Recording, normalizer: Normalizer, identity: dict[int, str | None], connected: set[int]
) -> str:
    client = step.client
    name = client.name
    if step.connects:
        if id(client) in connected:
            return f"replay.reconnect({name!r})"
        connected.add(id(client))
        args = [repr(name)]
        if client.initial_email:
            args.append(f"user={client.initial_email!r}")
        if client.requested_channel:
            args.append(f"channel_id={client.requested_channel!r}")
        return f"replay.connect({', '.join(args)})"
    event = dict(step.event or {})
    if event.get("type") == "walker" and isinstance(event.get("id"), str):
        normalizer.call(event["id"])
    if event.get("type") == "change_user":
        token = event.get("token")
        identity[id(client)] = token_email(token) if isinstance(token, str) else None
    shown = _literal(normalizer.sent(event), 4)
    return _call("replay.send", [repr(name), shown, f"expect={recording.counts(step)!r}"])

"""The tutorial notebooks and the examples that ship in the package, and copies of them a user owns.

In a wheel they are the ``jacws.tutorials`` and ``jacws.examples`` package data (the repository's ``notebooks/``
and ``examples/``); run from a checkout (an editable install), those folders themselves. A copy never overwrites
a file its user changed: ``.jacws-copies.json`` in the copy remembers what was copied, so a file still as copied
is brought up to date and one changed since is kept (and said so).
"""

from __future__ import annotations

import hashlib
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Literal

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:  # pragma: no cover - Python 3.10
    from importlib.abc import Traversable

__all__ = ["Outcome", "copy_files", "example_path", "examples", "source", "tutorial_title", "tutorials"]

CHECKOUT = Path(__file__).resolve().parent.parent
"""The repository, when jacws runs from a checkout."""
MANIFEST = ".jacws-copies.json"
_FOLDERS = {"tutorials": "notebooks", "examples": "examples"}
_EXAMPLE_SUFFIXES = (".py", ".jac", ".mjs", ".json")
_COMPANIONS = ("PROTOCOL.md",)
"""Files the tutorials link to, shipped and copied beside them."""

Outcome = Literal["copied", "updated", "unchanged", "kept yours"]


def source(kind: Literal["tutorials", "examples"]) -> Traversable:
    """Where the shipped tutorials (or examples) are: the checkout's folder, else the package data."""
    checkout = CHECKOUT / _FOLDERS[kind]
    if (CHECKOUT / "pyproject.toml").is_file() and checkout.is_dir():
        return checkout
    return resources.files(f"jacws.{kind}")


def tutorials() -> list[str]:
    """The tutorial notebooks' file names, in order."""
    return sorted(item.name for item in source("tutorials").iterdir() if item.name.endswith(".ipynb"))


def tutorial_title(name: str) -> str:
    """A tutorial's title: its first heading."""
    notebook = json.loads(source("tutorials").joinpath(name).read_text(encoding="utf-8"))
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", [])).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return name


def examples() -> list[str]:
    """The example files' names (walkers in Python and Jac, the Node.js client)."""
    found = source("examples").iterdir()
    return sorted(item.name for item in found if item.is_file() and item.name.endswith(_EXAMPLE_SUFFIXES))


def example_path(name: str) -> Path:
    """The file of a shipped example: ``"chat"`` (its Python file), ``"chat.jac"``, ``"ws_client.mjs"``.

    Raises:
        FileNotFoundError: no such example (the message lists them).
    """
    file = name if "." in name else f"{name}.py"
    if file not in examples():
        raise FileNotFoundError(f"no example {name!r}: the examples are {', '.join(examples())}")
    with resources.as_file(source("examples").joinpath(file)) as path:  # a real file in a wheel already
        return Path(path)


def copy_files(kind: Literal["tutorials", "examples"], destination: Path) -> dict[str, Outcome]:
    """Copy the shipped tutorials (or examples) into ``destination``; what happened to each file.

    A file is copied when missing, updated when it is still as last copied, and kept when its user changed it
    (or it was there before any copy and differs).
    """
    destination.mkdir(parents=True, exist_ok=True)
    manifest_file = destination / MANIFEST
    try:
        copied: dict[str, str] = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        copied = {}
    names = [*tutorials(), *_COMPANIONS] if kind == "tutorials" else examples()
    outcomes: dict[str, Outcome] = {}
    for name in names:
        content = source(kind).joinpath(name).read_bytes()
        target = destination / name
        if not target.exists():
            outcomes[name] = "copied"
        else:
            present = _digest(target.read_bytes())
            if present == _digest(content):
                outcomes[name] = "unchanged"
            elif copied.get(name) == present:  # as we left it: bring it up to date
                outcomes[name] = "updated"
            else:
                outcomes[name] = "kept yours"
                continue
        if outcomes[name] != "unchanged":
            target.write_bytes(content)
        copied[name] = _digest(content)
    manifest_file.write_text(json.dumps(copied, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return outcomes


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()

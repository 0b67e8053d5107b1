"""The source a generated test needs to serve some walkers: their code and what it uses.

Walkers defined in a notebook (the kernel's ``__main__``) are copied with the classes,
functions, modules and constants they name, dependencies first; the cell's source comes
from IPython's input history, newest definition first. Walkers of an importable Python
file or of a ``.jac`` file are referred to by path; Jac walkers written in a ``%%jac`` cell
are copied as Jac source. Only the standard library is used (``ast``, ``inspect``).
"""

from __future__ import annotations

import ast
import builtins
import inspect
import sys
import tempfile
import textwrap
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SourceUnavailable

__all__ = ["Sources", "SourceUnavailable", "collect_sources"]

_JACWS_NAMES = frozenset({"Edge", "Node", "Root", "Walker", "on_entry", "on_exit", "socket"})
_LITERALS = (str, int, float, bool, type(None), bytes)


@dataclass
class Sources:
    """What a test module needs: ``imports`` lines, ``code`` blocks in order, files and Jac sources to load."""

    code: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)  # .py or .jac files whose walkers to serve
    jac: list[tuple[str, str]] = field(default_factory=list)  # (module name, Jac source) from cells
    classes: list[str] = field(default_factory=list)  # the names of the copied walker classes
    _done: set[int] = field(default_factory=set)
    _modules: set[str] = field(default_factory=set)  # "import x" / "import x as y" lines
    _names: dict[str, set[str]] = field(default_factory=dict)  # module -> "name" / "name as alias"

    @property
    def imports(self) -> list[str]:
        """The import lines: whole modules first, then names by module, each sorted."""
        lines = [f"import {module}" for module in sorted(self._modules)]
        lines += [f"from {module} import {', '.join(sorted(names))}" for module, names in sorted(self._names.items())]
        return lines

    def _import(self, module: str, name: str | None = None) -> None:
        if name is None:
            self._modules.add(module)
        else:
            self._names.setdefault(module, set()).add(name)


def collect_sources(walkers: Iterable[type]) -> Sources:
    """The sources serving ``walkers`` (walker classes, Python or Jac).

    Raises:
        SourceUnavailable: a walker's source cannot be found (say, defined with ``exec``).
    """
    sources = Sources()
    for walker in walkers:
        jac_class = getattr(walker, "__jacws_jac__", None)
        module = sys.modules.get(walker.__module__)
        if jac_class is not None:
            _add_jac(sources, walker, module)
        elif walker.__module__ == "__main__" or module is None or getattr(module, "__file__", None) is None:
            _add_object(sources, walker.__name__, walker, module)
            sources.classes.append(walker.__name__)
        else:
            path = Path(str(module.__file__)).resolve()
            if path not in sources.files:
                sources.files.append(path)
    return sources


def _add_jac(sources: Sources, walker: type, module: types.ModuleType | None) -> None:
    file = Path(str(getattr(module, "__file__", "") or ""))
    if not file.is_file():
        raise SourceUnavailable(f"the Jac source of walker {walker.__name__} is gone")
    if file.parent.name.startswith("jacws-jac-") and Path(tempfile.gettempdir()) in file.parents:
        entry = (file.stem, file.read_text(encoding="utf-8"))  # a %%jac cell, kept in a temporary file
        if entry not in sources.jac:
            sources.jac.append(entry)
    elif file.resolve() not in sources.files:
        sources.files.append(file.resolve())


def _add_object(sources: Sources, name: str, value: Any, module: types.ModuleType | None) -> None:
    """Copy ``value`` (a class or function of ``module``), what it names first."""
    if id(value) in sources._done:
        return
    sources._done.add(id(value))
    code = _source_of(name, value)
    namespace = vars(module) if module is not None else {}
    for used in sorted(_names_used(code)):
        if used == name or used not in namespace or namespace[used] is getattr(builtins, used, None):
            continue
        _add_name(sources, used, namespace[used], module)
    sources.code.append(code)


def _add_name(sources: Sources, name: str, value: Any, module: types.ModuleType | None) -> None:
    """Make ``name`` available to the copied code: an import, a copy, or a constant."""
    if isinstance(value, types.ModuleType):
        parent, _, last = value.__name__.rpartition(".")
        if parent and name == last:
            sources._import(parent, name)
        else:
            sources._import(value.__name__ + (f" as {name}" if name != value.__name__ else ""))
        return
    if isinstance(value, (type, types.FunctionType)):
        origin = getattr(value, "__module__", None)
        if origin == "__main__" or origin is None:
            _add_object(sources, name, value, module)
            return
        if name in _JACWS_NAMES and origin.startswith("jacws"):
            sources._import("jacws", name)
            return
        real = getattr(value, "__qualname__", name)
        sources._import(origin, real + (f" as {name}" if real != name else ""))
        return
    if name in _JACWS_NAMES:  # socket: an instance
        sources._import("jacws", name)
        return
    if _is_literal(value):
        if id(value) not in sources._done:
            sources._done.add(id(value))
            sources.code.append(f"{name} = {value!r}")
        return
    # Anything else (a server, a client, an open file) cannot be copied: the copied code will
    # name it and fail where it is used, saying which name is missing.


def _is_literal(value: Any) -> bool:
    if isinstance(value, _LITERALS):
        return True
    if isinstance(value, (list, tuple, frozenset, set)):
        return all(_is_literal(v) for v in value)
    if isinstance(value, dict):
        return all(_is_literal(k) and _is_literal(v) for k, v in value.items())
    return False


def _names_used(code: str) -> set[str]:
    """Every name ``code`` reads (a superset of its free names: locals are filtered by the caller)."""
    tree = ast.parse(code)
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def _source_of(name: str, value: Any) -> str:
    """The source of a class or function: from a file, or from the notebook's input history."""
    if getattr(value, "__module__", None) == "__main__":
        found = _from_history(name)
        if found is not None:
            return found
    try:
        return textwrap.dedent(inspect.getsource(value))
    except (OSError, TypeError):
        raise SourceUnavailable(f"the source of {name} cannot be found (define it in a cell or a file)") from None


def _from_history(name: str) -> str | None:
    """The newest top-level definition of ``name`` in IPython's input history, if running in IPython."""
    main = sys.modules.get("__main__")
    history = getattr(main, "In", None) or getattr(main, "_ih", None)
    if not isinstance(history, list):
        return None
    for cell in reversed(history):
        if not isinstance(cell, str) or name not in cell:
            continue
        try:
            tree = ast.parse(cell)
        except SyntaxError:
            continue
        for node in reversed(tree.body):
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                lines = cell.splitlines()
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                return "\n".join(lines[first - 1 : node.end_lineno])
    return None

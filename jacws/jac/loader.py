"""Loading ``.jac`` files and notebook cells: their walkers join the registry."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import JacLoadError, JacUnavailable
from ..walkers import Walker
from .engine import runtime
from .walker import adapt


def load_jac(
    path: str | Path | None = None, *, source: str | None = None, name: str | None = None
) -> list[type[Walker]]:
    """Load a ``.jac`` file (or Jac ``source``, e.g. a notebook cell): its walkers join the registry.

    Loading a file again replaces its walkers, as redefining a Python walker does.

    Args:
        path: a ``.jac`` file.
        source: Jac source instead of a file.
        name: the module name for ``source`` (default ``jac_cell``).

    Returns:
        The walker classes now served, in the file's order.

    Raises:
        JacUnavailable: the ``jac`` extra is not installed.
        JacLoadError: the file does not compile or raises while importing.
        FileNotFoundError: there is no such file.
    """
    if (path is None) == (source is None):
        raise TypeError("load_jac takes a path or source=, not both")
    runtime()
    if source is not None:
        folder = Path(tempfile.mkdtemp(prefix="jacws-jac-"))
        file = folder / f"{name or 'jac_cell'}.jac"
        file.write_text(source, encoding="utf-8")
    else:
        file = Path(path).resolve()  # type: ignore[arg-type]
        if not file.is_file():
            raise FileNotFoundError(f"no such Jac file: {path}")
    module = _import(file)
    return _register(module)


def _import(file: Path) -> ModuleType:
    from jaclang.meta_importer import JacMetaImporter

    loader = next((f for f in sys.meta_path if isinstance(f, JacMetaImporter)), None)
    if loader is None:  # pragma: no cover - jaclang installs it on import
        raise JacUnavailable("jaclang's .jac importer is not installed")
    name = file.stem if file.stem.isidentifier() else "jac_walkers"
    spec = importlib.util.spec_from_file_location(name, file, loader=loader)
    if spec is None:  # pragma: no cover - a file location always gives a spec
        raise JacLoadError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    if str(file.parent) not in sys.path:
        sys.path.insert(0, str(file.parent))
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        loader.exec_module(module)
    except Exception as error:
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
        problems = _compile_errors(file)
        if problems:
            raise JacLoadError(f"{file.name} does not compile: " + "; ".join(problems)) from error
        raise JacLoadError(f"{file.name} did not load: {type(error).__name__}: {error}") from error
    return module


def _compile_errors(file: Path) -> list[str]:
    """jaclang's compile errors for ``file``, as ``line L, col C: message``."""
    from jaclang.jac0core.program import JacProgram

    program = JacProgram()
    with contextlib.suppress(Exception):  # the errors gathered so far still say what is wrong
        program.compile(str(file))
    return [str(e).replace(f"{file}, ", "") for e in program.errors_had]


def _register(module: ModuleType) -> list[type[Walker]]:
    from jaclang.jac0core.archetype import Root, WalkerArchetype

    served: list[type[Walker]] = []
    for value in list(vars(module).values()):
        if isinstance(value, type) and issubclass(value, WalkerArchetype) and value.__module__ == module.__name__:
            _accept_root_trigger(value, Root)
            served.append(adapt(value, module))
    return served


def _accept_root_trigger(walker_class: type, root_type: type) -> None:
    """Read a `` `root `` ability trigger (jac-cloud's spelling) as ``Root``.

    Current jaclang compiles `` with `root entry `` to a trigger naming ``root``, the function
    that returns the caller's root, which it then rejects; jac-cloud meant the root type.
    """
    from jaclang.jac0core import jaclib

    abilities = [*getattr(walker_class, "_jac_entry_funcs_", ()), *getattr(walker_class, "_jac_exit_funcs_", ())]
    for ability in abilities:
        original = getattr(ability, "trigger_override", None)
        if original is None or not callable(original):
            continue

        def trigger(original: Any = original) -> Any:
            try:
                kind = original()
            except NameError as error:
                if error.name == "root":
                    return root_type
                raise
            return root_type if kind is jaclib.root else kind

        ability.trigger_override = trigger


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jacws.jac`` adds the ``%%jac`` cell magic: the cell's Jac walkers join the registry."""

    def jac(line: str, cell: str) -> None:
        walkers = load_jac(source=cell, name=line.strip() or None)
        print("serving", ", ".join(w.__name__ for w in walkers) or "no walkers")

    ipython.register_magic_function(jac, magic_kind="cell", magic_name="jac")

"""Loading walkers from a file: a Python file (imported as a module) or a Jac file (through jaclang)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["load_file", "load_walkers"]


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


def load_file(file: str, jac: bool) -> str:
    """Load the walkers of a Python or Jac file; return the file's path."""
    if jac:
        from .jac import load_jac

        load_jac(file)
        return str(Path(file).resolve())
    return str(load_walkers(file).__file__)

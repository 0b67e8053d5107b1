"""The core modules are free of FastAPI, uvicorn and ipywidgets; no module of the package imports itself
back through others."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "jacws"
CORE = [
    "errors",
    "protocol",
    "graph",
    "graph_session",
    "specs",
    "notify",
    "walkers",
    "runner",
    "auth",
    "stores",
    "relays",
    "hub",
    "settings",
    "trace",
]


def test_core_modules_import_no_framework() -> None:
    code = (
        "import sys\n"
        + "".join(f"import jacws.{name}\n" for name in CORE)
        + "import jacws\n"
        + "bad = sorted(m for m in ('fastapi', 'starlette', 'uvicorn', 'ipywidgets', 'redis') if m in sys.modules)\n"
        + "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == ""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The package's modules ``path`` imports, when loaded or later (inside functions too; not for typing)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("jacws"))
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else (node.module or "")
            if not target.startswith("jacws"):
                continue
            for alias in node.names:  # ``from . import observe`` imports a module; other names, the target
                candidate = PACKAGE.parent.joinpath(*f"{target}.{alias.name}".split("."))
                if candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists():
                    found.add(f"{target}.{alias.name}")
                else:
                    found.add(target)
    return found - {module}


def test_no_module_of_the_package_imports_itself_back() -> None:
    graph = {_module_name(path): _imports(path) for path in PACKAGE.rglob("*.py")}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == 1:
                cycles.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


def test_a_protocol_only_run_loads_no_browser_or_service_helpers() -> None:
    code = (
        "import sys, pytest\n"
        "code = pytest.main(['-q', '-p', 'no:cacheprovider', 'tests/test_protocol.py'])\n"
        "loaded = sorted(m for m in ('playwright', 'psycopg', 'redis', 'services', 'jupyter') if m in sys.modules)\n"
        "print('LOADED', ','.join(loaded))\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=PACKAGE.parent, check=True
    )
    assert "LOADED \n" in result.stdout, result.stdout[-500:]

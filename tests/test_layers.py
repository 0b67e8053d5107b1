"""The core modules are free of FastAPI, uvicorn and ipywidgets."""

from __future__ import annotations

import subprocess
import sys

CORE = ["errors", "protocol", "graph", "walkers", "auth", "store", "relay", "hub", "settings", "trace"]


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

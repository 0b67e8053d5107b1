"""Mermaid diagrams read by Mermaid's own parser (npm's mermaid under jsdom, in Node.js)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from npm import node, npm_install

FOLDER = Path(__file__).resolve().parent / "mermaid"


def parse_mermaid(markdown: Path) -> dict[str, Any]:
    """What Mermaid reads from the first ```mermaid block of ``markdown``: type, actors and messages.

    Raises:
        AssertionError: Mermaid cannot parse it (its message says where).
    """
    npm_install(FOLDER, "mermaid/package.json")
    result = subprocess.run(
        [node(), str(FOLDER / "parse.mjs"), str(markdown)], capture_output=True, text=True, timeout=120, cwd=FOLDER
    )
    assert result.returncode == 0, f"Mermaid cannot parse {markdown.name}: {result.stderr}"
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed

"""The source of walkers for an exported test: copied from notebook cells, or named by file (jacws.sources)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from jacws.sources import SourceUnavailable, collect_sources

HERE = Path(__file__).resolve().parent

CELLS = [
    """
import json, math
from jacws import Node, Root, Walker, on_entry, socket
from pydantic import Field as PydanticField

LIMIT = 3
""",
    """
def twice(n):
    return n  # redefined below: the newest definition is the one copied
""",
    """
class Tally(Node):
    count: int = 0


def twice(n):
    return 2 * n
""",
    """
class tally(Walker):
    step: int = PydanticField(default=1)

    class __specs__:
        methods = ["websocket"]
        auth = False

    @on_entry(Root)
    def add(self, here: Root) -> None:
        node = here.connect(Tally(count=twice(LIMIT) * self.step))
        socket.notify_self({"type": "tallied", "count": node.count})
        self.report(math.floor(node.count))
""",
    """
from jacws.sources import collect_sources
found = collect_sources([tally])
print(json.dumps({"imports": found.imports, "code": found.code, "classes": found.classes, "files": found.files}))
""",
]


def run_cells(cells: list[str], folder: Path) -> list[str]:
    """Run ``cells`` on a fresh kernel in ``folder``; the printed output of each."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source.strip()) for source in cells])
    NotebookClient(notebook, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return ["".join(o.get("text", "") for o in cell.get("outputs", [])) for cell in notebook.cells]


def test_a_notebooks_walker_is_copied_with_what_it_uses_newest_definitions_first(tmp_path: Path) -> None:
    found = json.loads(run_cells(CELLS, tmp_path)[-1])
    assert found["classes"] == ["tally"] and found["files"] == []
    assert found["imports"] == [
        "import math",
        "from jacws import Node, Root, Walker, on_entry, socket",
        "from pydantic.fields import Field as PydanticField",
    ]
    code = found["code"]
    assert code[:2] == ["LIMIT = 3", "class Tally(Node):\n    count: int = 0"]
    assert code[2] == "def twice(n):\n    return 2 * n" and code[3].startswith("class tally(Walker):")
    module = "\n".join([*found["imports"], *code, "print(tally.__name__, twice(LIMIT))"])
    ran = subprocess.run([sys.executable, "-c", module], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert ran.stdout.strip() == "tally 6", ran.stderr  # the copy stands on its own


def test_a_walker_of_a_file_is_named_by_its_path() -> None:
    import session_walkers

    found = collect_sources([session_walkers.s_greet, session_walkers.s_remember])
    assert found.files == [HERE / "session_walkers.py"] and found.code == [] and found.classes == []


def test_a_walker_without_source_says_so() -> None:
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec("from jacws import Walker\nclass ghost(Walker):\n    pass\n", namespace)  # no file, no history
    try:
        collect_sources([namespace["ghost"]])  # type: ignore[list-item]
    except SourceUnavailable as error:
        assert "the source of ghost cannot be found" in str(error)
    else:
        raise AssertionError("a walker without source was copied")

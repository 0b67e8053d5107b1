"""Every tutorial notebook runs top to bottom on a fresh kernel, and leaves no server running."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import JAC
from nbclient import NotebookClient

LEFTOVER_SERVERS = (
    "import threading\nprint([t.name for t in threading.enumerate() if t.name.startswith('jacws-server')])"
)
NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
JAC_NOTEBOOKS = [path for path in NOTEBOOKS if "_jac" in path.stem]
"""Need jaclang (Python 3.12+): run here where it is, and by test_jac_env.py from older Pythons."""
RUNNABLE = [
    pytest.param(path, id=path.stem, marks=[pytest.mark.jac] if path in JAC_NOTEBOOKS else [])
    for path in NOTEBOOKS
    if JAC or path not in JAC_NOTEBOOKS
]


def test_the_tutorials_are_numbered_and_indexed() -> None:
    names = [path.name for path in NOTEBOOKS]
    assert names[0] == "00_index.ipynb" and len(names) >= 6
    index = NOTEBOOKS[0].read_text()
    for name in names[1:]:
        assert name in index, f"{name} is missing from the index"


@pytest.mark.parametrize("path", RUNNABLE)
def test_notebook_runs_on_a_fresh_kernel(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if "jacws.start(" in "".join(cell.source for cell in code):
        assert ".stop()" in code[-1].source, "the last cell must stop the servers"
    # After the notebook's own cells, in the same kernel: no server thread may be left running.
    notebook.cells.append(nbformat.v4.new_code_cell(LEFTOVER_SERVERS))
    client = NotebookClient(
        notebook, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    assert notebook.cells[-1].outputs[0]["text"].strip() == "[]", "a server is still running after the last cell"
    if "Playground(" in "".join(cell.source for cell in code):
        widget_views = [
            o
            for cell in code
            for o in cell.get("outputs", [])
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        ]
        assert widget_views, "the playground was not displayed"

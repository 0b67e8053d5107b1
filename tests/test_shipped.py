"""The shipped tutorials and examples, and copies that never overwrite what their user changed."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from jacws.shipped import MANIFEST, copy_files, example_path, examples, tutorial_title, tutorials

ROOT = Path(__file__).resolve().parent.parent


def test_the_tutorials_and_examples_are_the_repositorys() -> None:
    assert tutorials() == sorted(path.name for path in (ROOT / "notebooks").glob("*.ipynb"))
    assert tutorial_title("01_quickstart.ipynb") == "01 · Quickstart: a walker and three clients"
    assert {"chat.py", "chat.jac", "ws_client.mjs", "package.json"} <= set(examples())
    assert example_path("chat") == ROOT / "examples" / "chat.py"
    assert example_path("chat.jac") == ROOT / "examples" / "chat.jac"
    with pytest.raises(FileNotFoundError, match=re.escape("no example 'nope': the examples are chat.jac, chat.py")):
        example_path("nope")


def test_a_copy_is_updated_where_untouched_and_kept_where_its_user_changed_it(tmp_path: Path) -> None:
    first = copy_files("tutorials", tmp_path)
    assert set(first.values()) == {"copied"} and set(first) == {*tutorials(), "PROTOCOL.md"}
    assert (tmp_path / "PROTOCOL.md").read_bytes() == (ROOT / "docs" / "PROTOCOL.md").read_bytes()  # linked to
    assert set(copy_files("tutorials", tmp_path).values()) == {"unchanged"}

    mine, stale = tmp_path / "01_quickstart.ipynb", tmp_path / "02_chat.ipynb"
    mine.write_text(mine.read_text().replace("Quickstart", "My quickstart"))  # the user's edit
    stale.write_text("{}")  # as if an older jacws had copied this version of it
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    manifest[stale.name] = hashlib.sha256(b"{}").hexdigest()
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))

    again = copy_files("tutorials", tmp_path)
    assert again["01_quickstart.ipynb"] == "kept yours" and "My quickstart" in mine.read_text()
    assert again["02_chat.ipynb"] == "updated" and stale.read_bytes() == (ROOT / "notebooks" / stale.name).read_bytes()
    assert copy_files("tutorials", tmp_path)["01_quickstart.ipynb"] == "kept yours"  # and every time after


def test_a_file_that_was_there_before_any_copy_is_kept(tmp_path: Path) -> None:
    (tmp_path / "chat.py").write_text("# my own chat\n")
    assert copy_files("examples", tmp_path)["chat.py"] == "kept yours"
    assert (tmp_path / "chat.py").read_text() == "# my own chat\n"

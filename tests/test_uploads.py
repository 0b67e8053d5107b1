"""Which walker fields take files, told from their types alone (the core imports no web framework)."""

from __future__ import annotations

from typing import Any, Optional

import pytest
from fastapi import UploadFile
from starlette.datastructures import UploadFile as StarletteUploadFile

from jacws.uploads import file_fields, file_kind


@pytest.mark.parametrize(
    ("annotation", "kind"),
    [
        (UploadFile, "file"),
        (StarletteUploadFile, "file"),
        (UploadFile | None, "file"),
        (Optional[UploadFile], "file"),  # noqa: UP045 - the older spelling, as walkers may write it
        (list[UploadFile], "files"),
        (list[UploadFile] | None, "files"),
        (str, None),
        (list[str], None),
        (UploadFile | str, None),  # a file or text: not a file field
        (Any, None),
        (dict[str, Any], None),
    ],
)
def test_file_kind(annotation: Any, kind: str | None) -> None:
    assert file_kind(annotation) == kind


def test_file_fields_picks_the_file_fields() -> None:
    fields = {"photo": (UploadFile, ...), "pages": (list[UploadFile], []), "note": (str, "")}
    assert file_fields(fields) == {"photo": "file", "pages": "files"}

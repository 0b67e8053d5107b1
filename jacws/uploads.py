"""File fields of walkers: which fields take uploaded files (free of the web framework: the form is read in
:mod:`jacws.forms`).

A field annotated ``UploadFile`` (FastAPI's, re-exported as ``jacws.UploadFile``; Starlette's works too) takes one
file, ``list[UploadFile]`` several; either may be optional. The ability gets the upload itself: ``filename``,
``content_type``, ``size``, ``await file.read()`` in an ``async`` ability or ``file.file.read()`` in a plain one.
Files travel over REST only: over the socket such a walker answers ``files_need_rest``.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any, Literal

__all__ = ["FileKind", "file_fields", "file_kind", "is_upload_type"]

FileKind = Literal["file", "files"]


def file_kind(annotation: Any) -> FileKind | None:
    """``"file"`` for an upload field, ``"files"`` for a list of them, None for any other type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):  # Optional[...] and X | None
        kinds = {file_kind(arg) for arg in typing.get_args(annotation) if arg is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    if origin in (list, Sequence, tuple):
        args = typing.get_args(annotation)
        return "files" if args and is_upload_type(args[0]) else None
    return "file" if is_upload_type(annotation) else None


def is_upload_type(annotation: Any) -> bool:
    """Whether ``annotation`` is Starlette's ``UploadFile`` or a subclass (FastAPI's), known without importing
    either."""
    return isinstance(annotation, type) and any(
        klass.__name__ == "UploadFile" and klass.__module__ == "starlette.datastructures"
        for klass in annotation.__mro__
    )


def file_fields(fields: dict[str, tuple[Any, Any]]) -> dict[str, FileKind]:
    """The file fields among a walker's ``{name: (annotation, default)}``."""
    found: dict[str, FileKind] = {}
    for name, (annotation, _) in fields.items():
        kind = file_kind(annotation)
        if kind is not None:
            found[name] = kind
    return found

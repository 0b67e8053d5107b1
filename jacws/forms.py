"""Filling a walker's fields from a ``multipart/form-data`` request: files for its file fields
(:mod:`jacws.uploads`), the other parts for the rest.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import orjson
from fastapi import UploadFile
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.requests import Request

from .errors import InvalidEvent, TooLarge
from .uploads import file_fields

__all__ = ["UploadFile", "read_form"]

MAX_PARTS = 1000
"""Parts (files and fields together) in one form, at most."""


async def read_form(
    request: Request, fields: dict[str, tuple[Any, Any]], max_files: int
) -> tuple[dict[str, Any], FormData]:
    """A walker's field values from a ``multipart/form-data`` body, and the form, to close
    once the walker is done.

    File parts fill file fields; other parts are text, read as JSON for a field that is not a string (so ``5``
    is a number and ``{"a": 1}`` an object), else kept as text. Parts that name no field are ignored, as JSON
    bodies' unknown keys are.

    Raises:
        TooLarge: more than ``max_files`` files or ``MAX_PARTS`` parts.
        InvalidEvent: the body is not a valid form, a file is sent for a text field or text for a file field.
    """
    try:
        form = await request.form(max_files=max_files, max_fields=MAX_PARTS)
    except Exception as error:  # Starlette's parse errors: too many parts, a malformed body
        message = str(getattr(error, "detail", "")) or "the form could not be read"
        if "Too many" in message:
            raise TooLarge(f"{message.rstrip('.')} (at most {max_files} files)") from None
        raise InvalidEvent(f"invalid form: {message}", [{"loc": ["body"], "msg": message}]) from None
    try:
        return _fill(form, fields), form
    except BaseException:
        await form.close()  # (the uploads' temporary files)
        raise


def _fill(form: FormData, fields: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    """The field values the form's parts give (see :func:`read_form`)."""
    kinds = file_fields(fields)
    values: dict[str, Any] = {}
    for name in form:
        if name not in fields:
            continue
        parts = form.getlist(name)
        uploads = [part for part in parts if isinstance(part, StarletteUploadFile)]
        kind = kinds.get(name)
        if kind is None:
            if uploads:
                raise InvalidEvent(f"field {name} takes text, not a file", [{"loc": [name], "msg": "not a file field"}])
            texts = [_text_value(str(part), fields[name][0]) for part in parts]
            values[name] = texts if len(texts) > 1 else texts[0]
        elif len(uploads) != len(parts):
            raise InvalidEvent(f"field {name} takes files", [{"loc": [name], "msg": "expected a file"}])
        else:
            values[name] = uploads if kind == "files" else uploads[-1]
    return values


def _text_value(text: str, annotation: Any) -> Any:
    if _takes_text(annotation):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text  # let the field's validation say what is wrong


def _takes_text(annotation: Any) -> bool:
    """Whether a field of this type takes a string as it is (then a form's text is not read as JSON)."""
    if annotation is str or annotation is Any:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_takes_text(arg) for arg in typing.get_args(annotation))
    return False

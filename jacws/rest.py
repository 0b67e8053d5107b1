"""The REST calls of simulated clients and of the server handle: register, log in, run a walker."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from typing import Any

import orjson

from .errors import JacWSError

__all__ = ["FileValue", "RestCalls", "Upload", "http_json", "http_multipart", "login", "register", "uploads"]

FileValue = tuple[str, bytes, str]
"""A file for a walker's file field: (file name, content, content type)."""
Upload = tuple[str, str, bytes, str]
"""One file of a form: (field, file name, content, content type)."""


def uploads(files: dict[str, FileValue | list[FileValue]]) -> list[Upload]:
    """The files of a form, from ``{field: file or [files]}``."""
    return [
        (field, filename, content, content_type)
        for field, value in files.items()
        for filename, content, content_type in (value if isinstance(value, list) else [value])
    ]


def http_json(url: str, body: dict[str, Any] | None = None, token: str | None = None, timeout: float = 10) -> Any:
    """POST ``body`` as JSON; the JSON answer (an HTTP error's with ``http_status`` added)."""
    return _post(url, orjson.dumps(body or {}), "application/json", token, timeout)


def http_multipart(
    url: str, fields: dict[str, Any], files: Iterable[Upload], token: str | None = None, timeout: float = 10
) -> Any:
    """POST a ``multipart/form-data`` form: ``fields`` as text parts (JSON for what is not a string) and
    ``files``; the JSON answer, as :func:`http_json`."""
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        parts.append(_part(boundary, f'name="{_quoted(name)}"', None, text.encode()))
    for field, filename, content, content_type in files:
        disposition = f'name="{_quoted(field)}"; filename="{_quoted(filename)}"'
        parts.append(_part(boundary, disposition, content_type or "application/octet-stream", content))
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return _post(url, body, f"multipart/form-data; boundary={boundary}", token, timeout)


def _part(boundary: str, disposition: str, content_type: str | None, content: bytes) -> bytes:
    head = f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode() + b"\r\n" + content + b"\r\n"


def _quoted(name: str) -> str:
    """A name inside a quoted header parameter, as browsers write it (quotes and line breaks escaped)."""
    return name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _post(url: str, data: bytes, content_type: str, token: str | None, timeout: float) -> Any:
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return orjson.loads(response.read())
    except urllib.error.HTTPError as error:
        payload = error.read()
        error.close()
        try:
            return {"http_status": error.code, **orjson.loads(payload)}
        except (orjson.JSONDecodeError, TypeError):
            return {"http_status": error.code, "error": payload.decode("utf-8", "replace")}


def register(base_url: str, email: str, password: str) -> bool:
    """Register a user; True if created, False if the email was taken.

    Raises:
        JacWSError: the server refused the registration for another reason.
    """
    answer = http_json(f"{base_url}/user/register", {"email": email, "password": password})
    status = answer.get("http_status", 201)
    if status not in (201, 409):
        raise JacWSError(f"registering {email} failed: {answer.get('error') or answer}")
    return bool(status == 201)


def login(base_url: str, email: str, password: str) -> dict[str, Any]:
    """Log in; return ``{"token", "user": {"id", "email", "root_id"}}``.

    Raises:
        JacWSError: wrong email or password.
    """
    answer = http_json(f"{base_url}/user/login", {"email": email, "password": password})
    if "token" not in answer:
        raise JacWSError(f"login of {email} failed: {answer.get('message') or answer}")
    return dict(answer)


class RestCalls:
    """A simulated client's REST calls, with its token (:class:`~jacws.client.Client` gives ``base_url``,
    ``token`` and ``timeout``)."""

    base_url: str
    token: str | None
    timeout: float

    def logout(self) -> Any:
        """Revoke this client's token everywhere (``POST /user/logout``); the socket turns anonymous."""
        answer = http_json(self.base_url + "/user/logout", {}, self.token, self.timeout)
        return answer

    def rest(
        self,
        walker: str,
        node: str | None = None,
        files: dict[str, FileValue | list[FileValue]] | None = None,
        **fields: Any,
    ) -> Any:
        """Call a walker over REST with this client's token; return the JSON answer.

        ``files`` fills a walker's file fields: ``{"photo": ("a.png", b"...", "image/png")}`` (a list of such
        tuples for a ``list[UploadFile]`` field); the call is then a ``multipart/form-data`` POST.
        """
        url = self.base_url + f"/walker/{walker}" + (f"/{node}" if node else "")
        if not files:
            return http_json(url, fields, self.token, self.timeout)
        return http_multipart(url, fields, uploads(files), self.token, self.timeout)

"""The REST calls of simulated clients and of the server handle: register, log in, run a walker."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import orjson

from .errors import JacWSError

__all__ = ["http_json", "login", "register"]


def http_json(url: str, body: dict[str, Any] | None = None, token: str | None = None, timeout: float = 10) -> Any:
    request = urllib.request.Request(url, data=orjson.dumps(body or {}), method="POST")
    request.add_header("Content-Type", "application/json")
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

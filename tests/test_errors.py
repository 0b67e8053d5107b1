"""The error tree: wire codes, HTTP statuses and the single wire shape."""

from __future__ import annotations

import jacws.errors as errors
from jacws.errors import ClientError, Forbidden, InvalidEvent, JacWSError

CODES = {
    "InvalidJSON": "invalid_json",
    "InvalidEvent": "invalid_event",
    "UnknownWalker": "unknown_walker",
    "FilesNeedRest": "files_need_rest",
    "AuthRequired": "auth_required",
    "Forbidden": "forbidden",
    "WalkerFailed": "walker_error",
    "RateLimited": "rate_limited",
    "TooLarge": "too_large",
    "TooManyChannels": "too_many_channels",
    "InternalError": "internal_error",
    "UserExists": "user_exists",
    "InvalidCredentials": "invalid_credentials",
    "MethodNotAllowed": "method_not_allowed",
    "ServerBusy": "unavailable",
}


def test_every_client_error_has_its_protocol_code() -> None:
    found = {
        name: cls.code
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, ClientError) and cls is not ClientError
    }
    assert found == CODES


def test_every_error_is_a_jacws_error_and_documented_in_the_tree() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, JacWSError)
        assert name in (errors.__doc__ or ""), f"{name} is missing from the tree in the module docstring"


def test_the_wire_shape() -> None:
    assert Forbidden("no").to_wire() == {"type": "error", "error": "no", "code": "forbidden"}
    assert InvalidEvent("bad", [{"loc": ["x"], "msg": "m"}]).to_wire("walker", 3) == {
        "type": "walker",
        "error": "bad",
        "code": "invalid_event",
        "details": [{"loc": ["x"], "msg": "m"}],
        "id": 3,
    }


def test_http_answers_carry_jac_clouds_message_where_it_has_one() -> None:
    assert errors.UserExists().to_http() == {
        "message": "Email already registered!",
        "error": "email already registered",
        "code": "user_exists",
    }
    assert errors.InvalidCredentials().http_status == 400 and errors.UserExists.http_status == 409
    assert errors.ServerBusy("busy").to_http() == {"error": "busy", "code": "unavailable"}


def test_no_exception_class_of_the_package_stands_outside_the_tree() -> None:
    import ast
    from pathlib import Path

    package = Path(errors.__file__).parent
    outside = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(base) for base in node.bases}
                builtin = bases & {"Exception", "RuntimeError", "ValueError", "TypeError", "ImportError"}
                if builtin and path.name != "errors.py":
                    outside.append(f"{path.name}:{node.name}")
    assert outside == []

"""A walker's ``__specs__``: jac-cloud's names and defaults, each value checked when the class is defined."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import SpecsError

__all__ = ["HTTP_METHODS", "Specs"]

HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})


@dataclass(frozen=True)
class Specs:
    """A walker's ``__specs__`` with jac-cloud's names and defaults."""

    methods: tuple[str, ...] = ("post",)
    auth: bool = True
    path: str = ""
    as_query: tuple[str, ...] = ()
    private: bool = False
    tags: tuple[str, ...] = ()
    summary: str | None = None
    description: str | None = None

    @property
    def websocket(self) -> bool:
        """Whether the walker is callable over the socket."""
        return "websocket" in self.methods

    @property
    def http_methods(self) -> tuple[str, ...]:
        """The REST methods the walker is served on."""
        return tuple(m for m in self.methods if m != "websocket")

    @classmethod
    def from_class(cls, owner: str, specs: type | None) -> Specs:
        """Read a nested ``class __specs__`` and check every name and value.

        Raises:
            SpecsError: an unknown name or a value of the wrong type.
        """
        if specs is None:
            return cls()
        given = {k: v for k, v in vars(specs).items() if not k.startswith("__")}
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(given) - known)
        if unknown:
            raise SpecsError(f"{owner}.__specs__ has unknown names {unknown}; known names are {sorted(known)}")
        values: dict[str, Any] = {}
        for name, value in given.items():
            values[name] = _check_spec(owner, name, value)
        return cls(**values)


def _check_spec(owner: str, name: str, value: Any) -> Any:
    where = f"{owner}.__specs__.{name}"
    if name == "methods":
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise SpecsError(f"{where} must be a list such as ['websocket', 'post']")
        methods = tuple(str(m).lower() for m in value)
        bad = [m for m in methods if m not in HTTP_METHODS and m != "websocket"]
        if bad:
            raise SpecsError(f"{where} has unknown methods {bad}")
        return methods
    if name in ("auth", "private"):
        if not isinstance(value, bool):
            raise SpecsError(f"{where} must be True or False")
        return value
    if name in ("as_query", "tags"):
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, Iterable):
            raise SpecsError(f"{where} must be a list of strings")
        return tuple(str(v) for v in value)
    if name == "path":
        if not isinstance(value, str) or (value and not value.startswith("/")):
            raise SpecsError(f"{where} must be a string starting with '/'")
        return value
    if value is not None and not isinstance(value, str):
        raise SpecsError(f"{where} must be a string")
    return value

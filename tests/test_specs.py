"""``__specs__`` read with jac-cloud's names and defaults; every bad value refused with its place named."""

from __future__ import annotations

import pytest

from jacws.errors import SpecsError
from jacws.specs import Specs


def _specs(**values: object) -> type:
    return type("__specs__", (), values)


def test_no_specs_are_jac_clouds_defaults() -> None:
    specs = Specs.from_class("W", None)
    assert specs == Specs(methods=("post",), auth=True, path="", as_query=(), private=False, tags=())
    assert specs.http_methods == ("post",) and not specs.websocket


def test_values_are_normalised() -> None:
    specs = Specs.from_class("W", _specs(methods=["WebSocket", "GET"], as_query="q", tags=("a", 1), path="/x"))
    assert specs.methods == ("websocket", "get") and specs.websocket and specs.http_methods == ("get",)
    assert specs.as_query == ("q",) and specs.tags == ("a", "1") and specs.path == "/x"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"method": ["post"]}, r"W\.__specs__ has unknown names \['method'\]"),
        ({"methods": "post"}, r"W\.__specs__\.methods must be a list"),
        ({"methods": ["post", "fetch"]}, r"unknown methods \['fetch'\]"),
        ({"auth": "no"}, r"W\.__specs__\.auth must be True or False"),
        ({"tags": 3}, r"W\.__specs__\.tags must be a list of strings"),
        ({"path": "x"}, r"W\.__specs__\.path must be a string starting with '/'"),
        ({"summary": 1}, r"W\.__specs__\.summary must be a string"),
    ],
)
def test_bad_specs_name_the_place(values: dict[str, object], message: str) -> None:
    with pytest.raises(SpecsError, match=message):
        Specs.from_class("W", _specs(**values))

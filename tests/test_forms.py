"""File fields of REST walkers, over real HTTP: multipart uploads reach the ability, the catalogue marks file
fields, sizes are bounded, and the socket refuses such walkers with a clear error."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support import TIMEOUT, WS, register_and_login

from jacws.server import Server
from jacws.settings import Settings


@pytest.fixture(scope="module")
def login(server: Server) -> dict[str, Any]:
    return register_and_login(server.url, "uploader@example.com")


@pytest.fixture(scope="module")
def http(server: Server, login: dict[str, Any]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {login['token']}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=TIMEOUT) as client:
        yield client


def test_one_file_and_text_fields_reach_the_ability(http: httpx.Client) -> None:
    content = os.urandom(200_000)
    answer = http.post(
        "/walker/t_upload",
        files={"file": ("photo.png", content, "image/png")},
        data={"note": "holiday", "copies": "3"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["reports"] == [
        {
            "name": "photo.png",
            "type": "image/png",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
            "note": "holiday",
            "copies": 3,  # a number field's text is read as JSON
        }
    ]


def test_several_files_reach_a_plain_ability(server: Server) -> None:
    files = [("files", ("a.txt", b"first", "text/plain")), ("files", ("b.txt", b"second", "text/plain"))]
    answer = httpx.post(server.url + "/walker/t_uploads", files=files, data={"tag": "42"}, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    assert answer.json()["reports"] == [
        [{"name": "a.txt", "bytes": "first"}, {"name": "b.txt", "bytes": "second"}],
        "42",  # a field that takes text keeps it as text
    ]


def test_a_missing_file_is_a_field_error(http: httpx.Client) -> None:
    answer = http.post("/walker/t_upload", files={"other": ("x.bin", b"x")}, data={"note": "no file"})
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "invalid_event" and [d["loc"] for d in body["details"]] == [["file"]]


@pytest.mark.parametrize(
    ("files", "data", "field"),
    [
        ({"note": ("n.txt", b"a file")}, {}, "note"),  # a file for a text field
        (None, {"file": "just text", "note": "x"}, "file"),  # text for a file field
    ],
)
def test_a_part_of_the_wrong_kind_is_refused(
    http: httpx.Client, files: dict[str, Any] | None, data: dict[str, str], field: str
) -> None:
    extra = {"files": {**(files or {}), "pad": ("pad.txt", b".")}}  # (always multipart)
    answer = http.post("/walker/t_upload", data=data, **extra)
    assert answer.status_code == 422, answer.text
    assert answer.json()["details"][0]["loc"] == [field]


def test_the_catalogue_marks_file_fields(http: httpx.Client) -> None:
    walkers = {w["name"]: w for w in http.get("/walkers").json()["walkers"]}
    upload = {f["name"]: f for f in walkers["t_upload"]["fields"]}
    assert upload["file"]["type"] == "file" and upload["file"]["required"] is True
    assert upload["note"]["type"] == "str"
    assert {f["name"]: f["type"] for f in walkers["t_uploads"]["fields"]}["files"] == "files"


def test_over_the_socket_a_file_walker_answers_files_need_rest(server: Server, login: dict[str, Any]) -> None:
    with WS(server.ws_url, token=login["token"]) as ws:
        ws.send({"type": "walker", "walker": "t_upload", "context": {}, "response": True, "id": "f"})
        error = ws.recv()
        assert error["type"] == "walker" and error["code"] == "files_need_rest" and error["id"] == "f"
        assert "REST" in error["error"] and "multipart/form-data" in error["error"]
        assert ws.call("t_echo", value=1)["reports"] == [{"value": 1, "label": "x"}]  # the socket goes on


def test_uploads_have_their_own_size_limit() -> None:
    settings = Settings(port=0).with_changes(max_body_bytes=10_000, max_upload_bytes=50_000, max_upload_files=2)
    server = Server(settings).start()
    try:
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
            within = http.post("/walker/t_uploads", files={"files": ("big.txt", b"x" * 30_000)})
            assert within.status_code == 200, within.text  # over max_body_bytes, within max_upload_bytes
            assert http.post("/walker/t_echo", json={"value": 1, "label": "y" * 20_000}).status_code == 413
            over = http.post("/walker/t_uploads", files={"files": ("huge.txt", b"x" * 60_000)})
            assert over.status_code == 413
            assert over.json() == {
                "error": "upload too large (max_upload_bytes): the limit is 50000 bytes",
                "code": "body_too_large",
            }
            three = [("files", (f"{n}.txt", b"x")) for n in range(3)]
            many = http.post("/walker/t_uploads", files=three)
            assert many.status_code == 413 and many.json()["code"] == "too_large", many.text
    finally:
        server.stop()

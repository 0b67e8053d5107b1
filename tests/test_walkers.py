"""Walker classes, specs, abilities and the runner, with a recording notifier."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest
from fakes import RecordingNotifier

from jacws import Node, Root, Walker, on_entry, on_exit, socket
from jacws.errors import Forbidden, InvalidEvent, NotInWalker, SpecsError, WalkerFailed
from jacws.graph_session import GraphSession
from jacws.stores import SQLiteStore
from jacws.walkers import Specs, WalkerRegistry, describe_walker, registry, run_walker


def run(cls: type[Walker], fields: dict[str, Any], notifier: RecordingNotifier | None = None, **kw: Any) -> list[Any]:
    store = kw.pop("store", None) or SQLiteStore()
    root_id = kw.pop("root_id", "n::" + "ab" * 12)
    with ThreadPoolExecutor(2, thread_name_prefix="walker-test") as pool:
        reports = asyncio.run(
            run_walker(cls, fields, GraphSession(store, root_id), notifier or RecordingNotifier(), pool, **kw)
        )
    return list(orjson.loads(orjson.dumps(reports)))


def test_specs_default_to_jac_cloud_values() -> None:
    class w_defaults(Walker):
        pass

    specs = w_defaults.__jacws_specs__
    assert specs == Specs() and specs.methods == ("post",) and specs.auth is True and not specs.websocket


def test_unknown_spec_names_and_bad_values_fail_at_class_creation() -> None:
    with pytest.raises(SpecsError, match="unknown names \\['method'\\]"):

        class w_typo(Walker):
            class __specs__:
                method = ["websocket"]

    with pytest.raises(SpecsError, match="unknown methods"):

        class w_bad_method(Walker):
            class __specs__:
                methods = ["websocket", "fetch"]

    with pytest.raises(SpecsError, match="True or False"):

        class w_bad_auth(Walker):
            class __specs__:
                auth = "no"

    with pytest.raises(SpecsError, match="reserved"):

        class w_reserved(Walker):
            here: int

    assert "w_typo" not in registry


def test_fields_are_validated_and_errors_name_the_field() -> None:
    class w_fields(Walker):
        count: int
        tags: list[str] = []

    walker = w_fields(count="3")
    assert walker.fields == {"count": 3, "tags": []}
    with pytest.raises(InvalidEvent) as caught:
        w_fields(tags="x")
    assert {tuple(d["loc"]) for d in caught.value.details or []} == {("count",), ("tags",)}


def test_entry_and_exit_abilities_run_in_order_on_matching_nodes() -> None:
    class Stop(Node):
        label: str

    class w_order(Walker):
        @on_entry(Root)
        def first(self, here: Root) -> None:
            self.report("root entry 1")
            self.visit(here.connect(Stop(label="s")))

        @on_entry
        def any_node(self) -> None:
            self.report(f"any {type(self.here).__name__}")

        @on_exit(Root)
        def leave_root(self, here: Root) -> None:
            self.report("root exit")

        @on_entry(Stop)
        async def at_stop(self, here: Stop) -> None:
            self.report(f"stop {here.label}")

    assert run(w_order, {}) == ["root entry 1", "any Root", "root exit", "any Stop", "stop s"]


def test_subclasses_inherit_and_override_abilities() -> None:
    class w_base(Walker):
        @on_entry(Root)
        def hello(self, here: Root) -> None:
            self.report("base")

    class w_child(w_base):
        @on_entry(Root)
        def hello(self, here: Root) -> None:
            self.report("child")

    assert run(w_child, {}) == ["child"]


def test_notify_calls_reach_the_notifier_from_sync_and_async_abilities() -> None:
    class w_notify(Walker):
        @on_entry(Root)
        def plain(self, here: Root) -> None:
            socket.notify_self({"from": threading.current_thread().name})
            socket.notify_channels(["c"], {"n": 1})

        @on_entry(Root)
        async def coroutine(self, here: Root) -> None:
            socket.notify_users([here], {"n": 2})
            socket.notify_clients(["x"], {"n": 3})

    notifier = RecordingNotifier()
    run(w_notify, {}, notifier)
    kinds = [call[0] for call in notifier.calls]
    assert kinds == ["self", "channels", "users", "clients"]
    assert notifier.calls[0][2]["from"].startswith("walker-test")


def test_socket_outside_a_walker_says_to_use_the_server_handle() -> None:
    with pytest.raises(NotInWalker, match="server handle"):
        socket.notify_channels(["c"], {})


def test_raising_abilities_become_walker_errors_naming_only_the_type() -> None:
    class w_raises(Walker):
        @on_entry(Root)
        def enter(self, here: Root) -> None:
            raise KeyError("/etc/passwd")

    with pytest.raises(WalkerFailed) as caught:
        run(w_raises, {})
    assert caught.value.message == "walker w_raises failed: KeyError"


def test_starting_on_a_node_outside_the_graph_is_forbidden() -> None:
    class w_anywhere(Walker):
        pass

    with pytest.raises(Forbidden):
        run(w_anywhere, {}, node_id="n::" + "cd" * 12)


def test_registry_registers_and_unregisters_by_name() -> None:
    reg = WalkerRegistry()

    class w_named(Walker):
        pass

    reg.register(w_named)
    assert reg.get("w_named") is w_named and "w_named" in reg
    reg.unregister("w_named")
    assert "w_named" not in reg and len(reg) == 0


def test_private_walkers_are_not_listed() -> None:
    class w_private_listed(Walker):
        class __specs__:
            methods = ["websocket"]
            private = True

    assert w_private_listed not in registry.served()


def test_describe_walker_lists_methods_auth_and_fields() -> None:
    class w_described(Walker):
        """Says hi."""

        name: str
        times: int = 2

        class __specs__:
            methods = ["websocket", "get"]
            auth = False
            tags = ["demo"]

    entry = describe_walker(w_described)
    assert entry["methods"] == ["websocket", "get"] and entry["auth"] is False and entry["tags"] == ["demo"]
    assert entry["description"] == "Says hi."
    assert [(f["name"], f["type"], f["required"]) for f in entry["fields"]] == [
        ("name", "str", True),
        ("times", "int", False),
    ]
    assert entry["fields"][1]["default"] == 2

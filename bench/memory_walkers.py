"""Walkers that store many small nodes, for bench/memory.py and tests/test_memory.py."""

from jacws import Node, Root, Walker, on_entry


class Item(Node):
    n: int = 0


class add_items(Walker):
    """Connect ``count`` small nodes to the root."""

    count: int = 10_000

    class __specs__:
        methods = ["post"]
        auth = False

    @on_entry(Root)
    def add(self, here: Root) -> None:
        for n in range(self.count):
            here.connect(Item(n=n))
        self.report(self.count)


class count_items(Walker):
    """Report how many nodes the root points to (reads every one)."""

    class __specs__:
        methods = ["post"]
        auth = False

    @on_entry(Root)
    def count(self, here: Root) -> None:
        self.report(len(here.nodes(Item)))


class add_until_stopped(Walker):
    """Connect nodes until the run is stopped (its time limit)."""

    class __specs__:
        methods = ["post"]
        auth = False

    @on_entry(Root)
    def add(self, here: Root) -> None:
        n = 0
        while True:
            here.connect(Item(n=n))
            n += 1

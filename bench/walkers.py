"""The walkers the benchmarks call on jacws: an echo, as async as the baseline's."""

from jacws import Root, Walker, on_entry


class echo(Walker):
    """Reports its context back, like the baseline's walker handler."""

    n: int = 0

    class __specs__:
        methods = ["websocket"]
        auth = False

    @on_entry(Root)
    async def back(self, here: Root) -> None:
        self.report({"n": self.n})

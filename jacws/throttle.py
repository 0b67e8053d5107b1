"""Failed logins, throttled per account and per client address, before any password is hashed.

An account that fails ``free`` times in a row waits before its next try: 1 s, then twice as long
after each further failure, up to ``longest``; a success clears it. An address that fails more
than ``per_address`` times within ``window`` seconds waits until its oldest failure in the window
is older than that. A throttled attempt is refused at once (``429`` with ``Retry-After``), so a
flood of wrong guesses costs the server no hashing. Memory is bounded: the least recently seen
accounts and addresses are forgotten past ``remember`` of each. No I/O.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LoginThrottle"]


@dataclass
class _Account:
    failures: int = 0
    blocked_until: float = 0.0


class LoginThrottle:
    """Who may try to log in now, and for how long the others must wait."""

    def __init__(
        self,
        free: int = 5,
        longest: float = 900.0,
        per_address: int = 30,
        window: float = 60.0,
        remember: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.longest = longest
        self.per_address = per_address
        self.window = window
        self.remember = remember
        self.clock = clock
        self._accounts: OrderedDict[str, _Account] = OrderedDict()
        self._addresses: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, email: str, address: str) -> int:
        """Whole seconds ``address`` must wait before trying ``email`` again; 0 when it may try now."""
        now = self.clock()
        waits = [0.0]
        account = self._accounts.get(email.lower())
        if account is not None and account.blocked_until > now:
            waits.append(account.blocked_until - now)
        failures = self._addresses.get(address)
        if failures is not None:
            while failures and now - failures[0] >= self.window:
                failures.popleft()
            if len(failures) >= self.per_address:
                waits.append(failures[0] + self.window - now)
        return math.ceil(max(waits))

    def failed(self, email: str, address: str) -> None:
        """Note a wrong password (or unknown email) for ``email`` from ``address``."""
        now = self.clock()
        key = email.lower()
        account = self._accounts.pop(key, None) or _Account()
        account.failures += 1
        if account.failures >= self.free:
            account.blocked_until = now + min(self.longest, 2.0 ** (account.failures - self.free))
        self._accounts[key] = account
        failures = self._addresses.pop(address, None) or deque()
        failures.append(now)
        while len(failures) > self.per_address:
            failures.popleft()
        self._addresses[address] = failures
        for seen in (self._accounts, self._addresses):
            while len(seen) > self.remember:
                seen.popitem(last=False)

    def succeeded(self, email: str) -> None:
        """A right password for ``email``: its failures are forgotten."""
        self._accounts.pop(email.lower(), None)

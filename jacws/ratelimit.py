"""Token buckets, the budgets they make up per user and per address (kept across reconnects), and
counts of runs at once per user.

A connection's incoming messages and the bytes its messages leave waiting in other sockets' backlogs
are counted against a :class:`Budget`. Budgets belong to who is sending, not to a socket: a logged-in
user's connections share one, an anonymous address's connections share one, and a budget outlives its
connections until it has refilled, so closing a socket and opening a new one starts with what was left.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["Bucket", "Budget", "Budgets", "Concurrency", "budget_key"]


class Bucket:
    """A token bucket: ``rate`` tokens a second, ``burst`` at most, full when made."""

    __slots__ = ("at", "burst", "rate", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.at = now

    def refill(self, now: float) -> float:
        """Add what ``now - at`` earned (up to ``burst``) and return the tokens there are."""
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        return self.tokens

    def take(self, amount: float, now: float) -> bool:
        """Take ``amount`` if there is that much; False (taking nothing) if not."""
        tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)  # refill(), inlined: once a message
        self.at = now
        if tokens >= amount:
            self.tokens = tokens - amount
            return True
        self.tokens = tokens
        return False

    def charge(self, amount: float, now: float) -> float:
        """Take ``amount`` even into debt; return the seconds until the bucket is out of debt (0 if it is not)."""
        self.tokens = self.refill(now) - amount
        return -self.tokens / self.rate if self.tokens < 0 else 0.0

    def full_by(self, now: float) -> bool:
        """Whether the bucket would be full at ``now`` (nothing is lost by forgetting it)."""
        return self.tokens + (now - self.at) * self.rate >= self.burst


class Budget:
    """What one sender (a user, or an anonymous address) may still send: messages and queued bytes;
    ``holders`` counts the open connections using it."""

    __slots__ = ("holders", "messages", "queued_bytes")

    def __init__(self, messages: Bucket, queued_bytes: Bucket) -> None:
        self.messages = messages
        self.queued_bytes = queued_bytes
        self.holders = 0

    def idle_by(self, now: float) -> bool:
        """No connection holds it and both buckets would be full: forgetting it changes nothing."""
        return self.holders == 0 and self.messages.full_by(now) and self.queued_bytes.full_by(now)


def budget_key(root_id: str | None, address: str) -> str:
    """Who a connection's budget belongs to: its user's root, else its address."""
    return f"user:{root_id}" if root_id is not None else f"address:{address}"


class Budgets:
    """Every sender's budget, made on first use and forgotten once idle.

    Args:
        message_rate, message_burst: incoming messages a second, and at once.
        byte_rate, byte_burst: bytes left in other sockets' backlogs a second, and at once.
    """

    PRUNE_AT = 1024
    """Idle budgets are looked for once there are this many budgets (then twice as many as were left)."""

    def __init__(self, message_rate: float, message_burst: float, byte_rate: float, byte_burst: float) -> None:
        self._limits = (message_rate, message_burst, byte_rate, byte_burst)
        self._budgets: dict[str, Budget] = {}
        self._prune_above = self.PRUNE_AT

    def __len__(self) -> int:
        return len(self._budgets)

    def hold(self, key: str, now: float) -> Budget:
        """The budget of ``key`` (a new, full one if it has none), held by one more connection."""
        budget = self._budgets.get(key)
        if budget is None:
            if len(self._budgets) > self._prune_above:
                self.prune(now)
            message_rate, message_burst, byte_rate, byte_burst = self._limits
            budget = Budget(Bucket(message_rate, message_burst, now), Bucket(byte_rate, byte_burst, now))
            self._budgets[key] = budget
        budget.holders += 1
        return budget

    def release(self, budget: Budget) -> None:
        """One connection holding ``budget`` is gone (the budget stays until it is idle)."""
        budget.holders -= 1

    def prune(self, now: float) -> int:
        """Forget the idle budgets; return how many."""
        idle = [key for key, budget in self._budgets.items() if budget.idle_by(now)]
        for key in idle:
            del self._budgets[key]
        self._prune_above = max(self.PRUNE_AT, 2 * len(self._budgets))
        return len(idle)


class Concurrency:
    """How many runs are under way, in all and per key, and how many may be.

    Args:
        total: runs at once in all.
        per_key: runs at once for one key (a user, or an anonymous address).
    """

    def __init__(self, total: int, per_key: int) -> None:
        self.total = total
        self.per_key = per_key
        self.running = 0
        self._by_key: dict[str, int] = {}

    def enter(self, key: str) -> Literal["ok", "full", "key_full"]:
        """Count one more run for ``key``, unless the total (``"full"``) or the key's share
        (``"key_full"``) is reached; every ``"ok"`` is followed by one :meth:`leave`."""
        if self.running >= self.total:
            return "full"
        here = self._by_key.get(key, 0)
        if here >= self.per_key:
            return "key_full"
        self._by_key[key] = here + 1
        self.running += 1
        return "ok"

    def leave(self, key: str) -> None:
        """One run of ``key`` is over."""
        self.running -= 1
        left = self._by_key[key] - 1
        if left:
            self._by_key[key] = left
        else:
            del self._by_key[key]

"""Failed logins throttled per account and per address (jacws.throttle)."""

from __future__ import annotations

from jacws.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_account_waits_after_its_free_failures_twice_as_long_each_time_up_to_the_longest() -> None:
    clock = Clock()
    throttle = LoginThrottle(free=3, longest=10, per_address=1000, clock=clock)
    waits = []
    for _ in range(8):
        waits.append(throttle.wait("Ann@example.com", "10.0.0.1"))
        throttle.failed("ann@example.com", "10.0.0.1")
    assert waits[:3] == [0, 0, 0] and waits[3] == 1  # the fourth try waits 1 s
    assert [throttle.wait("ann@example.com", f"10.0.0.{n}") for n in (2, 3)] == [10, 10]  # from anywhere
    clock.now += 10
    assert throttle.wait("ann@example.com", "10.0.0.1") == 0
    throttle.succeeded("ANN@example.com")
    throttle.failed("ann@example.com", "10.0.0.1")
    assert throttle.wait("ann@example.com", "10.0.0.1") == 0  # a success started it over


def test_an_address_that_fails_too_often_waits_whatever_the_account() -> None:
    clock = Clock()
    throttle = LoginThrottle(free=100, per_address=5, window=60, clock=clock)
    for n in range(5):
        assert throttle.wait(f"user{n}@example.com", "10.0.0.9") == 0
        throttle.failed(f"user{n}@example.com", "10.0.0.9")
        clock.now += 1
    assert throttle.wait("someone@example.com", "10.0.0.9") == 55  # until the first failure is a minute old
    assert throttle.wait("someone@example.com", "10.0.0.10") == 0  # another address may try
    clock.now += 55
    assert throttle.wait("someone@example.com", "10.0.0.9") == 0


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(remember=100)
    for n in range(1000):
        throttle.failed(f"user{n}@example.com", f"10.0.{n // 256}.{n % 256}")
    assert len(throttle._accounts) == 100 and len(throttle._addresses) == 100

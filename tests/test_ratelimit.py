"""Token buckets and per-sender budgets, on a clock the test moves."""

from __future__ import annotations

from jacws.ratelimit import Bucket, Budgets, Concurrency, budget_key


def test_a_bucket_starts_full_refills_at_its_rate_and_never_past_its_burst() -> None:
    bucket = Bucket(rate=2, burst=3, now=0)
    assert [bucket.take(1, 0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.take(1, 0.4)  # 0.8 earned
    assert bucket.take(1, 0.5)  # 1.0 earned
    assert bucket.refill(100) == 3


def test_charging_goes_into_debt_and_says_how_long_it_takes_to_pay() -> None:
    bucket = Bucket(rate=100, burst=50, now=0)
    assert bucket.charge(40, 0) == 0
    assert bucket.charge(60, 0) == 0.5  # 50 in debt at 100 a second
    assert not bucket.full_by(0.9) and bucket.full_by(1.0)


def test_users_share_one_budget_wherever_they_come_from_and_anonymous_addresses_one_each() -> None:
    assert budget_key("root-1", "10.0.0.1") == budget_key("root-1", "10.0.0.2")
    assert budget_key(None, "10.0.0.1") != budget_key(None, "10.0.0.2")
    assert budget_key(None, "10.0.0.1") != budget_key("root-1", "10.0.0.1")


def test_a_budget_outlives_its_connections_until_it_has_refilled() -> None:
    budgets = Budgets(message_rate=1, message_burst=2, byte_rate=1000, byte_burst=1000)
    first = budgets.hold("address:a", 0)
    assert first.messages.take(2, 0)
    budgets.release(first)
    again = budgets.hold("address:a", 0.5)  # a reconnect half a second later: what was left, not a fresh budget
    assert again is first and not again.messages.take(1, 0.5)
    budgets.release(again)
    assert budgets.prune(1.0) == 0  # 1 of 2 messages earned back: not idle yet
    assert budgets.prune(2.0) == 1 and len(budgets) == 0
    assert budgets.hold("address:a", 2.0).messages.take(2, 2.0)  # forgotten: a full one again


def test_a_held_budget_is_never_forgotten_and_idle_ones_are_swept_as_new_ones_come() -> None:
    budgets = Budgets(message_rate=1, message_burst=1, byte_rate=1, byte_burst=1)
    held = budgets.hold("user:kept", 0)
    for n in range(Budgets.PRUNE_AT + 5):
        budgets.release(budgets.hold(f"address:{n}", 0))
    assert len(budgets) <= Budgets.PRUNE_AT + 2  # the idle ones were swept while the others came
    assert budgets.hold("user:kept", 0) is held


def test_runs_at_once_are_counted_per_key_and_in_all() -> None:
    runs = Concurrency(total=3, per_key=2)
    assert [runs.enter("user:a") for _ in range(3)] == ["ok", "ok", "key_full"]
    assert runs.enter("user:b") == "ok" and runs.enter("user:c") == "full"
    runs.leave("user:a")
    assert runs.enter("user:c") == "ok" and runs.running == 3

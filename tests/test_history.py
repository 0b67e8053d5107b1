"""Channel history: offsets from 1 per channel, bounded by count and age, gaps reported, idle channels forgotten."""

from __future__ import annotations

from jacws.history import ChannelHistory


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_offsets_count_per_channel_and_between_returns_the_range_in_order() -> None:
    history = ChannelHistory(5, 60)
    assert [history.append("a", b"%d" % n) for n in range(3)] == [1, 2, 3]
    assert history.append("b", b"x") == 1 and history.latest("a") == 3 and history.latest("nobody") == 0
    assert history.between("a", 1, 3) == ([(2, b"1"), (3, b"2")], True)
    assert history.between("a", 3, 3) == ([], True)
    assert history.between("a", 7, 7) == ([], False)  # offsets from a channel's earlier life


def test_count_and_age_bounds_make_recovery_incomplete() -> None:
    clock = Clock()
    history = ChannelHistory(3, 60, clock)
    for n in range(5):
        history.append("a", b"%d" % n)
    assert history.between("a", 0, 5) == ([(3, b"2"), (4, b"3"), (5, b"4")], False)
    clock.now += 61
    history.append("a", b"late")
    assert history.between("a", 4, 6) == ([(6, b"late")], False)


def test_a_sweep_drops_old_messages_and_forgets_idle_channels_without_members() -> None:
    clock = Clock()
    history = ChannelHistory(3, 60, clock)
    history.append("kept", b"1")
    history.append("gone", b"1")
    clock.now += 61
    history.sweep(active={"kept"})
    assert history.latest("kept") == 1 and history.latest("gone") == 0
    assert ChannelHistory(0, 60).enabled is False

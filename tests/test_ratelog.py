"""Warnings clients can repeat are rate-limited (jacws.ratelog)."""

from __future__ import annotations

import logging

import pytest

from jacws.ratelog import LimitedLog


def test_one_warning_per_interval_per_key_and_then_the_count_of_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = LimitedLog(logging.getLogger("jacws.test"), interval=1.0, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="jacws.test")
    for n in range(100):
        log.warning("slow", "closing slow consumer %d", n)
    log.warning("other", "something else")
    now[0] = 1.5
    log.warning("slow", "closing slow consumer %d", 100)
    assert [r.getMessage() for r in caplog.records] == [
        "closing slow consumer 0",
        "something else",
        "closing slow consumer 100 (and 99 more like it in the last 1 s)",
    ]

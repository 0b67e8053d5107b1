"""Time limits by slot: never before the limit, at most a slot late, an outer cancellation kept apart."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from jacws.deadlines import RESOLUTION, _by_loop, within


def run(coro: object) -> object:
    return asyncio.run(asyncio.wait_for(coro, 10))  # type: ignore[arg-type]


def test_a_body_over_in_time_finishes_and_leaves_its_slot() -> None:
    async def scenario() -> tuple[bool, int]:
        done = await within(5, asyncio.sleep(0.01))
        slots = _by_loop[asyncio.get_running_loop()].slots
        return done, sum(len(members) for members in slots.values())

    assert run(scenario()) == (True, 0)


def test_a_body_past_its_limit_is_cancelled_not_before_and_at_most_a_slot_after() -> None:
    async def scenario() -> tuple[bool, float, bool]:
        loop = asyncio.get_running_loop()
        stopped = False

        async def body() -> None:
            nonlocal stopped
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError:
                stopped = True
                raise

        start = loop.time()
        done = await within(0.05, body())
        return done, loop.time() - start, stopped

    done, took, stopped = run(scenario())  # type: ignore[misc]
    assert not done and stopped
    assert 0.05 <= took < 0.05 + RESOLUTION + 0.5  # the slack is the loop's, on a busy machine


def test_many_limits_share_one_timer_per_slot_and_each_walk_gets_its_own_verdict() -> None:
    async def scenario() -> list[bool]:
        async def walk(seconds: float) -> bool:
            return await within(0.05, asyncio.sleep(seconds))

        return await asyncio.gather(*(walk(0.001 if n % 2 else 2) for n in range(200)))

    verdicts = run(scenario())
    assert verdicts == [bool(n % 2) for n in range(200)]  # type: ignore[comparison-overlap]


def test_an_outer_cancellation_is_not_taken_for_the_limit() -> None:
    async def scenario() -> None:
        task = asyncio.ensure_future(within(5, asyncio.sleep(5)))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario())


def test_a_body_that_swallows_the_cancellation_finishes_late_and_the_task_is_not_left_cancelling() -> None:
    async def scenario() -> tuple[bool, int]:
        async def stubborn() -> None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(5)

        done = await within(0.02, stubborn())
        task = asyncio.current_task()
        assert task is not None
        return done, task.cancelling()

    assert run(scenario()) == (True, 0)

"""The background loops' runner (handoff/loops.py) and the loops the service runs."""

from __future__ import annotations

import asyncio
import logging

import pytest

from handoff.loops import Loop, Running


async def test_a_failing_pass_is_logged_and_the_loop_carries_on(
        caplog: pytest.LogCaptureFixture) -> None:
    passes = []

    async def work() -> None:
        passes.append(len(passes))
        if len(passes) == 1:
            raise RuntimeError("the database went away")

    running = Running()
    running.start([Loop("flaky", work, 0.01)])
    with caplog.at_level(logging.ERROR, logger="handoff.loops"):
        for _ in range(200):
            if len(passes) >= 3:
                break
            await asyncio.sleep(0.01)
    await running.stop()
    assert len(passes) >= 3
    assert [r.getMessage() for r in caplog.records] == ["flaky failed; carrying on"]
    assert running.tasks == []


async def test_a_woken_loop_runs_at_once_and_otherwise_waits_its_pause() -> None:
    wake, passes = asyncio.Event(), []

    async def work() -> None:
        passes.append(asyncio.get_running_loop().time())

    running = Running()
    running.start([Loop("delivery", work, 60.0, wake)])
    await asyncio.sleep(0.05)
    assert len(passes) == 1          # the first pass, then it waits (60 s)
    wake.set()
    await asyncio.sleep(0.05)
    assert len(passes) == 2          # woken: the next pass at once
    tasks = list(running.tasks)
    await running.stop()
    assert len(tasks) == 1 and tasks[0].cancelled()

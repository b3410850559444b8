"""The handoff service's background work, run as tasks for as long as the app runs
(``create_app``'s ``cleanup_ctx``): each loop does one pass, logs what failed and carries
on, then waits for its pause or until it is woken."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loop:
    name: str
    work: Callable[[], Awaitable[Any]]
    pause: float
    wake: asyncio.Event | None = None  # set to run the next pass at once


async def run(loop: Loop) -> None:
    while True:
        try:
            await loop.work()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; carrying on", loop.name)
        if loop.wake is None:
            await asyncio.sleep(loop.pause)
            continue
        loop.wake.clear()
        try:
            await asyncio.wait_for(loop.wake.wait(), timeout=loop.pause)
        except TimeoutError:
            pass


class Running:
    """Tasks for a set of loops (and other long-running coroutines), stopped together."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, loops: Sequence[Loop],
              others: Sequence[Coroutine[Any, Any, None]] = ()) -> None:
        running = asyncio.get_running_loop()
        self.tasks += [running.create_task(run(loop), name=loop.name) for loop in loops]
        self.tasks += [running.create_task(other) for other in others]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self.tasks = []

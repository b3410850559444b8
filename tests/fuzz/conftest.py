"""Hypothesis profiles of the fuzz suite (README, "Tests").

``ci`` (the default) is bounded and derandomized, so CI runs the same cases every time and
the whole suite takes well under two minutes on two cores; ``HYPOTHESIS_PROFILE=deep``
runs many more random cases for a long local session (failures it finds are kept in
``.hypothesis/`` and replayed first next time); ``dev`` is random but as short as ``ci``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Iterator
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, Phase, settings

T = TypeVar("T")

_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
               HealthCheck.data_too_large]
settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True,
                          database=None, print_blob=True, suppress_health_check=_SUPPRESSED,
                          phases=[Phase.explicit, Phase.generate, Phase.shrink])
settings.register_profile("dev", max_examples=100, deadline=None,
                          suppress_health_check=_SUPPRESSED)
settings.register_profile("deep", max_examples=5000, deadline=None,
                          suppress_health_check=_SUPPRESSED)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def examples(ci: int) -> int:
    """``ci`` examples in the CI profile (slow targets run fewer), the profile's own
    number otherwise (the deep profile's many)."""
    profile = settings.get_current_profile_name()
    return ci if profile == "ci" else max(ci, settings.default.max_examples)


class Loop:
    """One event loop a synchronous Hypothesis test runs its coroutines on, so a server
    started once serves every generated case (Hypothesis calls the test body many times)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, coroutine: Awaitable[T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


@pytest.fixture(scope="module")
def loop() -> Iterator[Loop]:
    made = Loop()
    yield made
    made.close()

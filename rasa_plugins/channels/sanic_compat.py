"""Sanic 21.12 (Rasa 3.6's) WebSockets on Python 3.11.

Sanic 21.12 receives WebSocket messages with ``asyncio.wait((future, coroutine))``;
Python 3.11 refuses coroutines there ("Passing coroutines is forbidden, use tasks
explicitly"), so every WebSocket, socket.io's included, fails on its first message and
socket.io falls back to long polling. Sanic 22 fixed it by wrapping the coroutine in a
task; ``apply()`` does the same for the module that has the bug, through a stand-in for its
``asyncio`` whose ``wait`` wraps coroutines. Nothing else changes.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Iterable
from typing import Any

from sanic.server.websockets import impl


async def _wait(aws: Iterable[Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.wait([asyncio.ensure_future(a) for a in aws], *args, **kwargs)


def apply() -> None:
    if isinstance(impl.asyncio, types.SimpleNamespace):
        return
    stand_in = types.SimpleNamespace(**{name: getattr(asyncio, name) for name in dir(asyncio)
                                        if not name.startswith("__")})
    stand_in.wait = _wait
    impl.asyncio = stand_in  # type: ignore[assignment]

"""Live updates to every open agent console over WebSockets."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)


class Hub:
    def __init__(self) -> None:
        self.sockets: dict[web.WebSocketResponse, int] = {}

    def add(self, ws: web.WebSocketResponse, agent_id: int) -> None:
        self.sockets[ws] = agent_id

    def remove(self, ws: web.WebSocketResponse) -> None:
        self.sockets.pop(ws, None)

    def online_agents(self) -> set[int]:
        return set(self.sockets.values())

    async def broadcast(self, frame: dict[str, Any]) -> None:
        data = json.dumps(frame, ensure_ascii=False)
        dead = []
        for ws in list(self.sockets):
            try:
                await ws.send_str(data)
            except (ConnectionError, RuntimeError, asyncio.CancelledError):
                dead.append(ws)
        for ws in dead:
            self.remove(ws)

    async def close(self) -> None:
        for ws in list(self.sockets):
            await ws.close(code=1001, message=b"server shutdown")
        self.sockets.clear()

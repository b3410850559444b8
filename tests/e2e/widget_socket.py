"""A website visitor's socket, as the widget uses it, for the end-to-end tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import socketio


class Visitor:
    """One browser tab of a visitor: a socket.io client speaking the widget's protocol."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = socketio.AsyncClient(reconnection=False)
        self.bot: list[dict[str, Any]] = []
        self.echoes: list[dict[str, Any]] = []
        self.typing: list[bool] = []
        self.confirm: dict[str, Any] = {}
        self._confirmed = asyncio.Event()
        self._news = asyncio.Event()

        @self.client.on("session_confirm")
        async def confirmed(data: dict[str, Any]) -> None:
            self.confirm = data
            self._confirmed.set()

        @self.client.on("bot_uttered")
        async def bot(data: dict[str, Any]) -> None:
            self.bot.append(data)
            self._news.set()

        @self.client.on("user_echo")
        async def echo(data: dict[str, Any]) -> None:
            self.echoes.append(data)
            self._news.set()

        @self.client.on("typing")
        async def typing(data: dict[str, Any]) -> None:
            self.typing.append(bool(data.get("on")))

    @property
    def token(self) -> str:
        return str(self.confirm["token"])

    @property
    def conversation(self) -> str:
        return self.token.split(".", 1)[0]

    async def open(self, token: str | None = None, after: str | None = None,
                   language: str = "en", session: Any = None) -> dict[str, Any]:
        """Connect and ask for a session (``session`` as sent, if given); the confirmation."""
        await self.client.connect(self.url, transports=["websocket"])
        await self.request(session if session is not None else
                           {"token": token, "after": after, "language": language})
        return self.confirm

    async def request(self, data: Any) -> dict[str, Any]:
        self._confirmed.clear()
        await self.client.emit("session_request", data)
        await asyncio.wait_for(self._confirmed.wait(), timeout=20)
        return self.confirm

    async def close(self) -> None:
        await self.client.disconnect()

    async def send(self, text: Any, client_id: str | None = None,
                   display: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"message": text, "client_id": client_id or uuid.uuid4().hex}
        if display:
            body["display"] = display
        return dict(await self.client.call("user_uttered", body, timeout=30))

    async def wait_bot(self, match: Callable[[dict[str, Any]], bool] = lambda m: True,
                       timeout: float = 30, start: int = 0) -> dict[str, Any]:
        """The first bot message (from index ``start``) that matches, waiting for it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = [m for m in self.bot[start:] if match(m)]
            if found:
                return found[0]
            remaining = deadline - loop.time()
            if remaining <= 0:
                texts = [m.get("text", "")[:80] for m in self.bot[start:]]
                raise AssertionError(f"no matching bot message within {timeout} s: {texts}")
            self._news.clear()
            try:
                await asyncio.wait_for(self._news.wait(), timeout=remaining)
            except TimeoutError:
                pass

    async def turn(self, text: str, display: str | None = None,
                   settle: float = 0.1) -> list[dict[str, Any]]:
        """Send a message; the bot messages of its answer (until the assistant stops typing)."""
        start = len(self.bot)
        typing_before = len(self.typing)
        ack = await self.send(text, display=display)
        assert ack["ok"], ack
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while loop.time() < deadline:
            if False in self.typing[typing_before:]:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(settle)  # "typing off" follows the answer on the same socket
        return self.bot[start:]

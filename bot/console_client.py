"""The agent console's HTTP API as one agent uses it (log in with the CSRF cookie, then
JSON calls carrying the session's token): the simulated day's agents and the tests."""

from __future__ import annotations

import json
from typing import Any

import aiohttp


class Console:
    """The agent console's HTTP API as one agent uses it."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self.username = username
        self.password = password
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, self.base_url + path, json=body,
                                     headers={"X-CSRF-Token": self.csrf}) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text

    async def login(self) -> None:
        async with self.http.get(self.base_url + "/console/login") as response:
            await response.read()
        self.csrf = next(c.value for c in self.http.cookie_jar if c.key == "handoff_csrf")
        status, body = await self.call("POST", "/api/login", {"username": self.username,
                                                              "password": self.password})
        if status != 200:
            raise RuntimeError(f"login of {self.username} failed: {status} {body}")
        status, me = await self.call("GET", "/api/me")
        self.csrf = me["csrf_token"]

    async def close(self) -> None:
        await self.http.close()

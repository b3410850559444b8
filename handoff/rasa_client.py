"""Rasa's HTTP API, as the handoff service uses it: read a conversation, append events.

Appending with ``output_channel=<the customer's channel>`` and ``execute_side_effects``
makes the Rasa process that takes the request record the events (under Rasa's lock for
the conversation) and send every bot message in them through that channel's output
channel. Naming the channel (never ``latest``) and using output channels that work from
any process (Telegram's Bot API, socket.io through a shared message queue, REST's
message feed) is what makes the relay work with several Rasa processes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp


class RasaError(RuntimeError):
    """Rasa did not take the request; the message says what it answered."""


class RasaClient:
    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self.timeout)
        return self._http

    def _url(self, conversation_id: str, tail: str) -> str:
        return f"{self.base_url}/conversations/{quote(conversation_id, safe='')}{tail}"

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        url = self._url(conversation_id, "/tracker")
        params = {"token": self.token, "include_events": "ALL"}
        try:
            async with self._session().get(url, params=params) as response:
                if response.status != 200:
                    raise RasaError(f"GET tracker: HTTP {response.status} "
                                    f"{(await response.text())[:200]}")
                return dict(await response.json())
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise RasaError(f"GET tracker: {type(exc).__name__}: {exc}") from exc

    async def append(self, conversation_id: str, events: list[dict[str, Any]],
                     channel: str) -> None:
        url = self._url(conversation_id, "/tracker/events")
        params = {"token": self.token, "output_channel": channel,
                  "execute_side_effects": "true", "include_events": "NONE"}
        try:
            async with self._session().post(url, params=params, json=events) as response:
                if response.status != 200:
                    raise RasaError(f"append events: HTTP {response.status} "
                                    f"{(await response.text())[:200]}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise RasaError(f"append events: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def trigger_intent(self, conversation_id: str, intent: str, entities: dict[str, Any],
                             channel: str) -> None:
        """Run the assistant as if the customer had said ``intent``; its replies go out
        through ``channel`` (the survey after a hand-back or a quiet spell)."""
        url = self._url(conversation_id, "/trigger_intent")
        params = {"token": self.token, "output_channel": channel, "include_events": "NONE"}
        try:
            async with self._session().post(url, params=params,
                                            json={"name": intent, "entities": entities}
                                            ) as response:
                if response.status != 200:
                    raise RasaError(f"trigger_intent: HTTP {response.status} "
                                    f"{(await response.text())[:200]}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise RasaError(f"trigger_intent: {type(exc).__name__}: {exc}") from exc

"""The website widget's channel: Rasa's socket.io channel, made safe for a public page.

Rasa's ``SocketIOInput`` lets a socket name any conversation id (in ``session_request``
and again in every message), so one visitor could read or write another's conversation;
it forgets every message sent while a socket was away; and since python-socketio 5.11 its
``enter_room`` is a coroutine it never awaits, so persistent sessions are silently
broken. This channel (name ``widget``):

- issues conversation ids itself and accepts them back only as signed tokens
  (``rasa_plugins/channels/widget_protocol.py``); the conversation of a socket is kept on the
  server, never taken from a message;
- answers every ``session_request`` with the conversation's history (all of it, or what
  came after the last message the widget has), so a reload, a second tab or a reconnection
  after a network drop shows everything once;
- takes each message once, by the widget's ``client_id`` (a message resent after a drop
  is acknowledged, not answered twice), acknowledges it, shows it in the visitor's other
  tabs and says when the assistant is typing;
- sends agents' messages with the agent's name and the queue status (Rasa's HTTP API,
  ``output_channel=widget``), to every socket of the conversation, on any server process
  when ``SOCKETIO_REDIS_URL`` names a shared Redis;
- serves the widget's files (``/webhooks/widget/static/``) and a demo shop page
  (``/webhooks/widget/demo``);
- names the visitor's client by a keyed hash of its address (``metadata["client_id"]``,
  ``client_identity``) and holds each session token and each client to the channels' rate
  limits (``rate_limits``), whatever number of sockets share them: a message over budget is
  refused in its acknowledgement (the widget puts the text back), a new session over budget
  gets ``rate_limited`` ``{text, retry_after}`` instead of ``session_confirm``.

Settings (environment): ``WIDGET_SESSION_SECRET`` (required), ``WIDGET_ALLOWED_ORIGINS``
(comma-separated origins, or ``*``; unset, only pages served by this server may open a
socket), ``SOCKETIO_REDIS_URL`` (optional). See README, "Website widget".
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import socketio
import yaml
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_plugins.channels import rate_limits, sanic_compat, typed_commands
from rasa_plugins.channels import widget_protocol as protocol
from rasa_plugins.channels.client_identity import EdgeSettingsError, Identity
from rasa_plugins.channels.tracker_events import has_user_message

log = logging.getLogger(__name__)
sanic_compat.apply()  # WebSockets on Python 3.11

STATIC_DIR = Path(__file__).with_name("widget_static")
STRINGS = yaml.safe_load((Path(__file__).with_name("strings") / "widget.yml")
                         .read_text(encoding="utf-8"))
RECENT_CLIENT_IDS = 5000


def say(language: str | None, key: str, **values: Any) -> str:
    table = STRINGS.get(language or "en") or STRINGS["en"]
    return str(table.get(key) or STRINGS["en"][key]).format(**values)


class WidgetOutput(OutputChannel):
    """Sends each bot message as one widget message to every socket of the conversation."""

    @classmethod
    def name(cls) -> str:
        return "widget"

    def __init__(self, sio: socketio.AsyncServer,
                 recent: protocol.RecentlySent | None = None) -> None:
        self.sio = sio
        self.recent = recent

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        if not message.get("text") and not message.get("buttons"):
            if message.get("custom") or message.get("image") or message.get("attachment"):
                log.warning("the widget shows text and buttons only; a %s message to %s "
                            "was dropped", ", ".join(k for k in ("custom", "image", "attachment")
                                                     if message.get(k)), recipient_id)
            return
        sent = protocol.live_message(message)
        if self.recent is not None:
            self.recent.add(recipient_id, sent)
        await self.sio.emit("bot_uttered", sent, room=recipient_id)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text, "timestamp": time.time(),
                                                **kwargs})


class _AppBlueprint(SocketBlueprint):
    """Rasa's socket.io blueprint, remembering the Sanic app it is registered on."""

    app: Sanic | None = None

    def register(self, app: Sanic, options: dict[str, Any]) -> None:
        _AppBlueprint.app = app
        super().register(app, options)


class WidgetInput(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "widget"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        secret = credentials.get("session_secret") or os.environ.get("WIDGET_SESSION_SECRET")
        if not secret:
            raise RasaException(
                "WIDGET_SESSION_SECRET is not set: the website widget signs its visitors' "
                "session tokens with it. Set it to a long random value (`make run` makes "
                "one in var/), the same on every Rasa process.")
        origins = str(credentials.get("allowed_origins")
                      or os.environ.get("WIDGET_ALLOWED_ORIGINS") or "")
        if not origins.strip():
            log.warning("widget: WIDGET_ALLOWED_ORIGINS is not set: only pages served by this "
                        "server (same origin) may open the widget's socket; set it to the "
                        "shop's origins (https://shop.example,...) to embed the widget there")
        redis_url = credentials.get("redis_url") or os.environ.get("SOCKETIO_REDIS_URL") or None
        return cls(secret=str(secret), allowed_origins=origins, redis_url=redis_url,
                   socketio_path=credentials.get("socketio_path", "/socket.io"))

    def __init__(self, secret: str, allowed_origins: str = "", redis_url: str | None = None,
                 socketio_path: str = "/socket.io") -> None:
        super().__init__(session_persistence=True, socketio_path=socketio_path)
        self.secret = secret.encode()
        listed = [o.strip().rstrip("/") for o in allowed_origins.split(",") if o.strip()]
        # None: python-engineio's same-origin check (the page's origin is this server's)
        self.allowed_origins: str | list[str] | None = (
            "*" if allowed_origins.strip() == "*" else listed or None)
        self.redis_url = redis_url
        self._recent: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self.recent = protocol.RecentlySent()
        self._on_new_message: Callable[[UserMessage], Awaitable[Any]] | None = None

    def get_output_channel(self) -> OutputChannel | None:
        return WidgetOutput(self.sio, self.recent) if self.sio is not None else None

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _tracker_store() -> Any:
        """The Rasa server's tracker store (None before a model is loaded)."""
        agent = getattr(getattr(_AppBlueprint.app, "ctx", None), "agent", None)
        return None if agent is None else agent.tracker_store

    async def _events(self, session_id: str) -> list[dict[str, Any]]:
        store = self._tracker_store()
        tracker = await store.retrieve_full_tracker(session_id) if store is not None else None
        return [event.as_dict() for event in tracker.events] if tracker else []

    async def _seen(self, session_id: str, client_id: str) -> bool:
        """Whether this message was taken already (in this process, or in the record)."""
        key = (session_id, client_id)
        if key in self._recent:
            return True
        self._recent[key] = True
        while len(self._recent) > RECENT_CLIENT_IDS:
            self._recent.popitem(last=False)
        store = self._tracker_store()
        return store is not None and has_user_message(await store.retrieve(session_id),
                                                      client_id)

    def _sio(self) -> socketio.AsyncServer:
        assert self.sio is not None, "the blueprint makes the socket.io server"
        return self.sio

    async def _answer(self, sio: socketio.AsyncServer, message: UserMessage,
                      language: str | None) -> None:
        conversation = message.sender_id
        await sio.emit("typing", {"on": True}, room=conversation)
        try:
            assert self._on_new_message is not None
            await self._on_new_message(message)
        except Exception:  # a visitor never sees a traceback
            log.exception("widget: message from %s failed", conversation)
            self._recent.pop((conversation, str(message.message_id)), None)
            await sio.emit("bot_uttered", {
                "id": f"err-{message.message_id}", "role": "bot", "from": "system",
                "text": say(language, "failed"), "timestamp": time.time()}, room=conversation)
        finally:
            await sio.emit("typing", {"on": False}, room=conversation)

    async def _session_request(self, sid: str, data: Any = None, *_: Any) -> None:
        sio = self._sio()
        data = data if isinstance(data, dict) else {}
        session = await sio.get_session(sid)
        conversation = protocol.session_of(self.secret, data.get("token"))
        fresh = conversation is None
        token = data.get("token")
        language = protocol.language_of(data.get("language")) or session.get("language")
        client = str(session.get("client") or "")
        if conversation is None:
            if data.get("token"):
                log.info("widget: socket %s gave a token this server did not issue; "
                         "it starts a new conversation", sid)
            verdict = await self.limiter.new_conversation(client)
            if not verdict.allowed:
                log.info("widget: %s over its %s budget; no new session for %d s", client,
                         verdict.refused_by, verdict.retry_seconds)
                await sio.emit("rate_limited", {
                    "text": rate_limits.refusal_text(language, verdict),
                    "retry_after": verdict.retry_seconds}, to=sid)
                return
            conversation, token = protocol.new_session(self.secret)
        previous = session.get("conversation")
        if previous and previous != conversation:
            await sio.leave_room(sid, previous)
        await sio.enter_room(sid, conversation)  # before reading: nothing falls between
        await sio.save_session(sid, {"conversation": conversation, "language": language,
                                     "client": client})
        after = data.get("after")
        after = after if isinstance(after, str) and len(after) <= 80 else None
        past: list[dict[str, Any]] = []
        if not fresh:
            stored = protocol.messages(await self._events(conversation))
            past = (protocol.since(stored, after)
                    + self.recent.missing(conversation, {m["id"] for m in stored}))
        await sio.emit("session_confirm", {"token": token, "fresh": fresh,
                                           "history": past}, to=sid)

    async def _handle_message(self, sid: str, data: Any = None, *_: Any) -> dict[str, Any]:
        sio = self._sio()
        session = await sio.get_session(sid)
        conversation = session.get("conversation")
        language = session.get("language")
        data = data if isinstance(data, dict) else {}
        if not conversation:
            return {"ok": False, "error": say(language, "no_session")}
        text = data.get("message")
        if not isinstance(text, str) or not text.strip():
            return {"ok": False, "error": say(language, "empty")}
        if len(text) > protocol.MAX_MESSAGE_CHARS:
            return {"ok": False, "error": say(language, "too_long",
                                              limit=protocol.MAX_MESSAGE_CHARS)}
        client_id = data.get("client_id")
        if not isinstance(client_id, str) or not protocol.CLIENT_ID_RE.fullmatch(client_id):
            client_id = os.urandom(12).hex()
        elif await self._seen(conversation, client_id):
            return {"ok": True, "id": client_id, "duplicate": True}
        client = str(session.get("client") or "")
        verdict = await self.limiter.message(client, conversation, opens=False)
        if not verdict.allowed:
            self._recent.pop((conversation, client_id), None)
            log.info("widget: %s (%s) over its %s budget; refused for %d s", conversation,
                     client, verdict.refused_by, verdict.retry_seconds)
            return {"ok": False, "error": rate_limits.refusal_text(language, verdict),
                    "retry_after": verdict.retry_seconds}
        metadata: dict[str, Any] = {"client_id": client}
        if language:
            metadata["language"] = language
        display = data.get("display")
        if isinstance(display, str) and display.strip():
            metadata["display"] = display.strip()[:protocol.MAX_DISPLAY_CHARS]
        now = time.time()
        await sio.emit("user_echo", protocol.user_message(text, now, client_id, metadata),
                       room=conversation, skip_sid=sid)
        if typed_commands.is_shorthand(text):
            store = self._tracker_store()
            tracker = await store.retrieve(conversation) if store is not None else None
            text = typed_commands.guarded(text, typed_commands.offered_payloads(tracker))
        message = UserMessage(text, WidgetOutput(sio, self.recent), conversation,
                              input_channel=self.name(), message_id=client_id,
                              metadata=metadata)
        # Acknowledged at once; the answer follows as bot_uttered. Rasa's lock store
        # keeps one conversation's messages in the order they came.
        task = asyncio.get_running_loop().create_task(
            self._answer(sio, message, language))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return {"ok": True, "id": client_id}

    # -- the blueprint ---------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        try:
            self.identity = Identity.from_env(
                {**os.environ, "WIDGET_SESSION_SECRET": self.secret.decode()})
            self.limiter = rate_limits.shared(os.environ, warn=log.warning)
        except EdgeSettingsError as exc:
            raise RasaException(str(exc)) from None
        manager = socketio.AsyncRedisManager(self.redis_url) if self.redis_url else None
        sio = socketio.AsyncServer(async_mode="sanic", cors_allowed_origins=self.allowed_origins,
                                   client_manager=manager, max_http_buffer_size=64_000)
        self.sio = sio
        self._on_new_message = on_new_message
        hook = _AppBlueprint(sio, self.socketio_path, "widget_webhook", __name__)
        if manager is not None:
            log.info("widget: socket.io messages go through Redis at %s", self.redis_url)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/demo", methods=["GET"])
        async def demo(_: Request) -> HTTPResponse:
            return await response.file(STATIC_DIR / "demo.html",
                                       headers={"Cache-Control": "no-cache"})

        hook.static("/static", str(STATIC_DIR), name="widget_static")

        @sio.on("connect")
        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
            request = environ.get("sanic.request")
            peer = getattr(request, "ip", None) or environ.get("REMOTE_ADDR")
            client = self.identity.of_address(peer, environ.get("HTTP_X_FORWARDED_FOR"))
            await sio.save_session(sid, {"client": client})
            return True

        sio.on("session_request")(self._session_request)
        sio.on(self.user_message_evt)(self._handle_message)
        return hook

"""Telegram, as a Rasa channel that survives what Telegram really sends.

Keeps the name and URLs of Rasa's connector (``/webhooks/telegram/webhook``) and fixes
what it gets wrong:

* every update must carry the secret Telegram was given (``X-Telegram-Bot-Api-Secret-Token``),
  else 403 and nothing happens; a body that is not JSON gets 400;
* a repeated ``update_id`` is answered once: in this process by ``RecentUpdates``, across
  processes and restarts by the Rasa message id ``tg-<update_id>`` in the tracker store;
* button presses, edits, photos, stickers, channel posts and membership changes are each
  handled or ignored instead of crashing the request (``telegram_updates.read_update``);
* the webhook is registered once when the server starts, in the background with back-off,
  not on every request (Rasa calls ``setWebhook`` from ``get_output_channel`` and ``getMe``
  on every update);
* replies are escaped HTML, split under 4,096 characters, with one inline button per row;
  an agent's message is headed by their name (``telegram_format``).

Conversations are ``tg-<chat id>``. Each message carries the channel's own
``metadata["client_id"]``, ``tg:`` and a keyed hash of the sender's user id
(``client_identity``), and is held to the channels' rate limits per chat and per user
(``rate_limits``; ``/start`` and ``/restart`` count as new conversations): a message over
budget is not answered, and the customer is told so once per window. A body over 1 MB
gets 413, one nested deeper than 32 levels 400. Settings: ``telegram_settings``; without
TELEGRAM_BOT_TOKEN the channel is off, answers 503 and the server runs as usual.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram.bot.api import TelegramAPIServer
from aiogram.utils import exceptions as tg
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_plugins.channels import rate_limits, typed_commands
from rasa_plugins.channels.client_identity import BadBody, EdgeSettingsError, Identity, loads
from rasa_plugins.channels.telegram_format import inline_keyboard, render
from rasa_plugins.channels.telegram_settings import SettingsError, TelegramSettings, load_settings
from rasa_plugins.channels.telegram_updates import (
    COMMANDS,
    BadUpdate,
    Incoming,
    RecentUpdates,
    Strings,
    chat_id_of,
    read_update,
    resolve_button,
    secret_matches,
)
from rasa_plugins.channels.tracker_events import has_user_message

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
REQUEST_TIMEOUT_SECONDS = 20
RETRY_FIRST_SECONDS = 2.0
RETRY_MAX_SECONDS = 300.0
RETRY_AFTER_MAX_SECONDS = 30
# aiohttp's words for a request on a kept-alive connection the server had closed: the
# request was not taken, so sending it again cannot double a message.
STALE_CONNECTION = ("Can not write request body", "ServerDisconnectedError")
MAX_UPDATE_BYTES = 1024 * 1024
MAX_UPDATE_DEPTH = 32
OPENING_TEXTS = ("/greet", "/restart")  # what /start and /restart become


def error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


class TelegramChannelOutput(TelegramOutput):
    """Sends to ``tg-<chat id>`` through the Bot API; one instance per Rasa process."""

    def __init__(self, settings: TelegramSettings, strings: Strings) -> None:
        Bot.__init__(self, settings.token, timeout=REQUEST_TIMEOUT_SECONDS,
                     server=TelegramAPIServer.from_base(settings.api_base_url))
        self.strings = strings
        self.languages: dict[int, str] = {}  # Telegram language last seen per chat

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        chat_id = chat_id_of(recipient_id)
        text = str(message.get("text") or "")
        language = message.get("language") or self.languages.get(chat_id)
        parts = render(text, message.get("from"), message.get("agent_name"),
                       self.strings.text(language, "agent_label")) if text.strip() else []
        buttons = message.get("buttons") or message.get("quick_replies") or []
        markup = inline_keyboard(buttons) if buttons else None
        for index, part in enumerate(parts):
            await self._send(chat_id, part, markup if index == len(parts) - 1 else None)
        if message.get("image"):
            await self._call("sendPhoto", self.send_photo, chat_id, message["image"])
        if message.get("custom"):
            await self.send_custom_json(str(chat_id), message["custom"])

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "text": text})

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "text": text, "buttons": buttons})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"image": image})

    async def _send(self, chat_id: int, html_text: str, markup: dict[str, Any] | None) -> None:
        await self._call("sendMessage", self.send_message, chat_id, html_text,
                         parse_mode="HTML", reply_markup=markup)

    async def _call(self, what: str, method: Callable[..., Awaitable[Any]], *args: Any,
                    **kwargs: Any) -> None:
        """One Bot API call. Flood control is waited out once, and a request that never
        left (a kept-alive connection the server had just closed) is sent once more; a
        chat that cannot receive (blocked bot, unknown chat) is logged and skipped; other
        network trouble is raised, so the handoff relay delivers the message again later."""
        retried = False
        while True:
            try:
                await method(*args, **kwargs)
                return
            except tg.RetryAfter as exc:
                if retried:
                    raise
                await asyncio.sleep(min(int(exc.timeout), RETRY_AFTER_MAX_SECONDS))
            except tg.NetworkError as exc:
                if retried or not any(sign in str(exc) for sign in STALE_CONNECTION):
                    raise
                log.debug("Telegram %s: stale connection (%s), sending again", what, exc)
            except (tg.Unauthorized, tg.BadRequest, tg.NotFound) as exc:
                log.warning("Telegram %s to chat %s refused: %s", what, args[0], exc)
                return
            retried = True

    async def answer_button(self, callback_query_id: str) -> None:
        """Stops the spinner on the pressed button; a failure only costs the spinner."""
        try:
            await self._call("answerCallbackQuery", self.answer_callback_query,
                             callback_query_id)
        except (TimeoutError, tg.TelegramAPIError, OSError) as exc:
            log.warning("Telegram answerCallbackQuery %s failed: %s", callback_query_id, exc)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


class TelegramChannel(TelegramInput):
    """The input side: ``/webhooks/telegram/`` (health), ``/webhook``, ``/set_webhook``."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TelegramChannel:
        try:
            settings = load_settings(credentials, os.environ)
        except SettingsError as exc:
            log.error("Telegram channel: %s", exc)
            raise
        return cls(settings)

    def __init__(self, settings: TelegramSettings, strings: Strings | None = None) -> None:
        super().__init__(settings.token, None, settings.webhook_url, debug_mode=False)
        self.settings = settings
        self.strings = strings or Strings()
        self.recent = RecentUpdates()
        self._output: TelegramChannelOutput | None = None
        self._registration: asyncio.Task[None] | None = None
        self.identity: Identity | None = None
        self.limiter: rate_limits.Limiter | None = None
        if not settings.enabled:
            log.info("Telegram channel disabled: TELEGRAM_BOT_TOKEN is not set "
                     "(its webhook answers 503)")

    def get_output_channel(self) -> TelegramChannelOutput | None:
        if not self.settings.enabled:
            return None
        if self._output is None:
            self._output = TelegramChannelOutput(self.settings, self.strings)
        return self._output

    # Webhook registration ----------------------------------------------------------------

    async def register_webhook(self) -> None:
        """``setWebhook`` with the secret and the update types this channel handles.

        aiogram 2.15 predates ``secret_token``, so the call is made by name."""
        output = self.get_output_channel()
        assert output is not None
        await output.request("setWebhook", {
            "url": self.settings.webhook_url,
            "secret_token": self.settings.secret_token,
            "allowed_updates": json.dumps(ALLOWED_UPDATES),
        })

    async def _register_until_done(self) -> None:
        base, url = self.settings.api_base_url, self.settings.webhook_url
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                await self.register_webhook()
                log.info("Telegram webhook registered at %s: %s", base, url)
                return
            except (tg.Unauthorized, tg.NotFound) as exc:
                log.error("Telegram webhook NOT registered: %s refused the bot token (%s); "
                          "check TELEGRAM_BOT_TOKEN", base, exc)
                return
            except tg.BadRequest as exc:
                log.error("Telegram webhook NOT registered: %s refused %s (%s); check "
                          "TELEGRAM_WEBHOOK_URL (Telegram needs a public https URL on port "
                          "443, 80, 88 or 8443)", base, url, exc)
                return
            except tg.RetryAfter as exc:
                delay = max(delay, float(exc.timeout))
                log.warning("Telegram webhook not registered yet: flood control; retrying "
                            "in %.0f s", delay)
            except (TimeoutError, tg.TelegramAPIError, OSError) as exc:
                log.warning("Telegram webhook not registered yet: Bot API at %s unreachable "
                            "(%s: %s); retrying in %.0f s (TELEGRAM_API_BASE_URL)", base,
                            type(exc).__name__, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    # Updates -----------------------------------------------------------------------------

    async def handle(self, incoming: Incoming, agent: Any,
                     on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Answer one update, once. Failures are logged, not raised: Telegram would only
        deliver the same update again."""
        output = self.get_output_channel()
        assert output is not None
        if incoming.kind == "ignored":
            log.debug("Telegram update %d ignored: %s", incoming.update_id, incoming.reason)
            if incoming.callback_query_id:
                await output.answer_button(incoming.callback_query_id)
            return
        if not self.recent.claim(incoming.update_id):
            log.info("Telegram update %d is a repeat: not answered again", incoming.update_id)
            return
        try:
            await self._answer(incoming, output, agent, on_new_message)
        except Exception:
            log.exception("Telegram update %d (%s) failed", incoming.update_id,
                          incoming.sender_id)
        finally:
            self.recent.finish(incoming.update_id)

    async def _answer(self, incoming: Incoming, output: TelegramChannelOutput, agent: Any,
                      on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        assert incoming.chat_id is not None
        if incoming.language:
            output.languages[incoming.chat_id] = incoming.language
        if incoming.callback_query_id:
            await output.answer_button(incoming.callback_query_id)
        if not await self._within_budget(incoming, output):
            return
        if incoming.kind == "unreadable":
            log.debug("Telegram update %d: cannot read %s", incoming.update_id, incoming.reason)
            await output.send_response(incoming.sender_id, {
                "text": self.strings.text(incoming.language, "text_only"), "from": "system"})
            return
        tracker = await agent.tracker_store.retrieve(incoming.sender_id)
        if has_user_message(tracker, incoming.message_id):
            log.info("Telegram update %d was answered before (%s): not again",
                     incoming.update_id, incoming.message_id)
            return
        text = incoming.text
        if incoming.kind == "button":
            pressed = resolve_button(incoming.text, incoming.button_title,
                                     typed_commands.offered_payloads(tracker))
            if pressed is None:
                log.warning("Telegram update %d: button %r of %s is unknown and has no "
                            "title", incoming.update_id, incoming.text, incoming.sender_id)
                return
            text = pressed
        if incoming.kind == "button" or text not in COMMANDS.values():
            # what the customer typed or a button's data (which a client can forge)
            text = typed_commands.guarded(text, typed_commands.offered_payloads(tracker))
        metadata = {**incoming.metadata(), "client_id": self._client(incoming)}
        await on_new_message(UserMessage(
            text, output, incoming.sender_id, input_channel=self.name(),
            message_id=incoming.message_id, metadata=metadata))

    def _client(self, incoming: Incoming) -> str:
        if self.identity is None:
            self.identity = Identity.from_env(os.environ)
        return self.identity.of_telegram_user(incoming.user.get("id") or incoming.chat_id)

    async def _within_budget(self, incoming: Incoming, output: TelegramChannelOutput) -> bool:
        """Whether the sender's budgets take this message; if not, they are told once per
        window (Telegram does not deliver an update again after a 200)."""
        if self.limiter is None:
            self.limiter = rate_limits.shared(os.environ, warn=log.warning)
        client = self._client(incoming)
        opens = incoming.kind == "text" and incoming.text in OPENING_TEXTS
        verdict = await self.limiter.message(client, incoming.sender_id, opens=opens)
        if verdict.allowed:
            return True
        log.info("Telegram update %d: %s over its %s budget; not answered (%d s)",
                 incoming.update_id, client, verdict.refused_by, verdict.retry_seconds)
        if await self.limiter.once(f"telegram:{client}:{verdict.refused_by}",
                                   verdict.retry_after):
            await output.send_response(incoming.sender_id, {
                "text": rate_limits.refusal_text(incoming.language, verdict),
                "from": "system"})
        return False

    # Routes ------------------------------------------------------------------------------

    def _refusal(self, request: Request) -> HTTPResponse | None:
        if not self.settings.enabled:
            return error(503, "the Telegram channel is not configured (TELEGRAM_BOT_TOKEN)")
        assert self.settings.secret_token is not None
        if not secret_matches(request.headers.get(SECRET_HEADER), self.settings.secret_token):
            log.warning("Telegram webhook: request from %s without the right %s refused",
                        request.ip, SECRET_HEADER)
            return error(403, f"missing or wrong {SECRET_HEADER}")
        return None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        try:
            self.identity = Identity.from_env(os.environ)
            self.limiter = rate_limits.shared(os.environ, warn=log.warning)
        except EdgeSettingsError as exc:
            raise RasaException(str(exc)) from None
        hook = Blueprint("orbita_telegram", __name__)

        @hook.listener("after_server_start")
        async def start_registration(_app: Any, loop: asyncio.AbstractEventLoop) -> None:
            if self.settings.enabled:
                self._registration = loop.create_task(self._register_until_done())

        @hook.listener("before_server_stop")
        async def stop(_app: Any, _loop: asyncio.AbstractEventLoop) -> None:
            if self._registration is not None and not self._registration.done():
                self._registration.cancel()
            if self._output is not None:
                await self._output.aclose()

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.settings.enabled else "disabled"})

        @hook.route("/set_webhook", methods=["POST"])
        async def set_webhook(request: Request) -> HTTPResponse:
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
            try:
                await self.register_webhook()
            except (TimeoutError, tg.TelegramAPIError, OSError) as exc:
                log.warning("Telegram setWebhook failed: %s: %s", type(exc).__name__, exc)
                return error(502, f"the Bot API refused or did not answer: {exc}")
            return response.json({"ok": True, "url": self.settings.webhook_url,
                                  "allowed_updates": ALLOWED_UPDATES})

        @hook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
            try:
                incoming = read_update(loads(request.body or b"", MAX_UPDATE_BYTES,
                                             MAX_UPDATE_DEPTH))
            except BadBody as exc:
                return error(exc.status, "the body must be JSON" if exc.status == 400 and
                             "JSON" in str(exc) else str(exc))
            except BadUpdate as exc:
                return error(400, str(exc))
            await self.handle(incoming, request.app.ctx.agent, on_new_message)
            return response.json({"ok": True})

        return hook

"""The Telegram channel in a bare Sanic server, without a model: run by Rasa's Python.

    .venv-rasa/bin/python tests/rasa_plugins/channels/telegram_harness.py <port>

Settings come from the TELEGRAM_* environment variables, as in Rasa. Instead of Rasa's
agent, each user message is recorded (``GET /received``) and answered with ``echo: <text>``
(``long`` gets a 9,000-character answer). The in-memory tracker store starts with
conversations that a previous process left behind: ``tg-777`` already has the user
message of update 9001, ``tg-778`` was offered a button whose payload is longer than
Telegram's 64-byte ``callback_data``. Used by test_telegram_channel.py.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_plugins.channels.telegram import TelegramChannel

LONG_PAYLOAD = '/inform{"item": "' + "EXTRA-LONG-ITEM-CODE-" * 3 + '"}'
LONG_ANSWER = "\n\n".join(" ".join(["paragraph"] * 300) for _ in range(3))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s",
                        stream=sys.stdout)
    port = int(sys.argv[1])
    store = InMemoryTrackerStore(Domain.empty())
    left = DialogueStateTracker.from_events("tg-777", [
        UserUttered("hi", message_id="tg-9001", input_channel="telegram")])
    offered = DialogueStateTracker.from_events("tg-778", [BotUttered(
        "Which one?", data={"buttons": [{"title": "The long one", "payload": LONG_PAYLOAD}]})])
    received: list[dict[str, Any]] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append({"text": message.text, "sender_id": message.sender_id,
                         "message_id": message.message_id, "metadata": message.metadata})
        answer = LONG_ANSWER if message.text == "long" else f"echo: {message.text}"
        await message.output_channel.send_text_message(message.sender_id, answer)

    app = Sanic("telegram_harness")
    app.ctx.agent = SimpleNamespace(tracker_store=store)

    @app.listener("before_server_start")
    async def seed(_app: Any, _loop: Any) -> None:
        await store.save(left)
        await store.save(offered)

    @app.get("/received")
    async def get_received(_: Request) -> HTTPResponse:
        return response.json(received)

    channel = TelegramChannel.from_credentials(None)
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/telegram")
    print(f"harness listening on {port}", flush=True)
    app.run(host="127.0.0.1", port=port, access_log=False, motd=False)


if __name__ == "__main__":
    main()

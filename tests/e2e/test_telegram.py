"""Telegram end to end: a user of the Bot API emulator talks to the real stack.

The emulator (tests/telegram/emulator.js) delivers updates to Rasa's
/webhooks/telegram/webhook with the secret the bot registered, as Telegram does, and
stores what the bot sends; the agent works in the real handoff service's console API.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Assistant, Console, customer_texts, hand_back_all, wait_for
from tests.e2e.telegram_client import Telegram, TelegramUser

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def telegram(assistant: Assistant) -> Telegram:
    assert assistant.telegram is not None
    info = assistant.telegram.wait_webhook()  # registered in the background at start-up
    assert info["url"] == assistant.telegram.webhook_url
    assert info["allowed_updates"] == ["message", "edited_message", "callback_query"]
    return assistant.telegram


@pytest.fixture(scope="module")
def agent(assistant: Assistant) -> Iterator[Console]:
    console = assistant.console("tg-anna", "Anna")
    yield console
    hand_back_all(console, "tg-")


def user_events(assistant: Assistant, user: TelegramUser) -> list[dict[str, Any]]:
    events = assistant.tracker(user.conversation_id).get("events") or []
    return [e for e in events if e["event"] == "user"]


def test_order_buttons_and_a_person_over_telegram(assistant: Assistant, telegram: Telegram,
                                                  agent: Console) -> None:
    user = telegram.user("Olga", "en")
    greeting = user.say("/start")
    assert len(greeting) == 1 and "virtual assistant" in greeting[0].shown
    assert greeting[0].parse_mode == "HTML"

    # A return with inline buttons: one per row, the payload as callback_data.
    user.say("I'd like to return something I bought")
    user.say("ORB-104217")
    items = user.say("anna.schmidt@example.com")[-1]
    rows = items.reply_markup["inline_keyboard"] if items.reply_markup else []
    phone = [{"text": "Nova 7 smartphone, 128 GB", "callback_data": '/inform{"item": "PH-NOVA-7"}'}]
    case = [{"text": "Nova 7 silicone case", "callback_data": '/inform{"item": "AC-CASE-N7"}'}]
    # The case is gone once the REST test (same shop, earlier in the session) returned it.
    assert rows in ([phone, case], [phone]), rows
    reasons = user.press("Nova 7 smartphone, 128 GB")
    assert "Why are you returning it?" in reasons[-1].shown
    assert [b["text"] for b in reasons[-1].buttons] == [
        "It's defective", "Wrong item sent", "Changed my mind", "Other reason"]
    cost = "\n".join(m.shown for m in user.press("Changed my mind"))
    assert "4.95" in cost and "Shall I create the return" in cost
    pressed = user_events(assistant, user)[-1]
    assert pressed["text"] == '/inform{"return_reason": "changed_mind"}'
    assert pressed["metadata"]["display"] == "Changed my mind"
    assert pressed["metadata"]["language"] == "en"
    assert pressed["metadata"]["telegram_user"]["first_name"] == "Olga"
    assert pressed["input_channel"] == "telegram"
    assert pressed["message_id"].startswith("tg-")
    # "No": the shared demo shop keeps the item returnable for the other tests.
    declined = "\n".join(m.shown for m in user.press("No"))
    assert declined and "RMA-" not in declined
    assert user_events(assistant, user)[-1]["text"] == "/deny"

    # Track the order the customer has proved is theirs.
    assert "delivered on 15 November 2026" in user.texts("where is my order?")

    # A person takes over.
    assert "passing you to a person" in user.texts("I want to talk to a person")
    ticket = agent.ticket_of(user.conversation_id)
    assert ticket["channel"] == "telegram"
    seen = len(user.messages())
    assert agent.act(ticket["id"], "claim")[0] == 200
    joined = user.wait_for(lambda m: "has joined the chat" in m.shown, after=seen)
    assert "Anna" in joined.shown and "<b>" not in joined.text  # a system message: plain

    reply = "Hi Olga, <script>alert(1)</script> I'll check the *return* & the parcel."
    status, _ = agent.act(ticket["id"], "messages", {"text": reply})
    assert status == 201
    got = user.wait_for(lambda m: "check the" in m.shown, after=seen)
    assert got.text.startswith("<b>Anna · support</b>\n")
    assert "&lt;script&gt;" in got.text and "<script>" not in got.text
    assert got.shown == f"Anna · support\n{reply}"

    # The customer's next message reaches the agent, literally, and the bot stays quiet.
    question = "<b>x</b> is what the *label* says & [link](https://x.example)"
    assert user.say(question) == []
    wait_for(lambda: question in customer_texts(agent, ticket["id"]),
             what="the customer's message in the transcript")
    time.sleep(1.0)
    assert all("check the" in m.shown or "has joined" in m.shown
               for m in user.messages()[seen:])  # no answer from the assistant meanwhile

    # Handed back: the assistant answers again.
    assert agent.act(ticket["id"], "resolve")[0] == 200
    user.wait_for(lambda m: "handed you back" in m.shown, after=seen)
    assert "ORB-104217" in user.texts("where is my order?")


def test_forged_updates_are_refused_and_not_answered(assistant: Assistant,
                                                     telegram: Telegram) -> None:
    user = telegram.user("Mallory")
    update = {"update_id": user.new_update_id(), "message": user.message(text="hi")}
    for secret in (None, "wrong-secret", telegram.secret + "x", telegram.secret[:-1]):
        status, body = telegram.post_webhook(update, secret=secret)
        assert status == 403, body
        assert "X-Telegram-Bot-Api-Secret-Token" in body["error"]
    status, body = telegram.post_webhook({}, raw=b"{not json")
    assert status == 400 and "JSON" in body["error"]
    status, body = telegram.post_webhook({"message": {"text": "no update id"}})
    assert status == 400 and "update_id" in body["error"]
    time.sleep(0.5)
    assert user.messages() == []
    assert user_events(assistant, user) == []


def test_the_webhook_is_registered_again_only_with_the_secret(telegram: Telegram) -> None:
    for secret in (None, "wrong"):
        status, body = telegram.set_webhook(secret)
        assert status == 403, body
    status, body = telegram.set_webhook()
    assert status == 200 and body["url"] == telegram.webhook_url
    assert telegram.webhook_info()["url"] == telegram.webhook_url


def test_a_repeated_update_is_answered_once(assistant: Assistant, telegram: Telegram) -> None:
    user = telegram.user("Rita")
    update = {"update_id": user.new_update_id(), "message": user.message(text="hello")}
    first = user.send_update(update)
    assert first["webhook_status"] == 200
    answered = len(user.messages())
    assert answered >= 1
    assert user.send_update(update)["webhook_status"] == 200  # Telegram retries
    status, _ = telegram.post_webhook(update)
    assert status == 200
    time.sleep(0.5)
    assert len(user.messages()) == answered
    events = user_events(assistant, user)
    assert [e["message_id"] for e in events] == [f"tg-{update['update_id']}"]

    # Two deliveries of one update at the same time: still one answer.
    update = {"update_id": user.new_update_id(),
              "message": user.message(text="where is my order?")}
    before = len(user.messages())
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: results.append(user.send_update(update)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [r["webhook_status"] for r in results] == [200, 200, 200]
    time.sleep(0.5)
    new = user.messages()[before:]
    assert len(new) == 1 and "ORB-104217" in new[0].shown
    assert len(user_events(assistant, user)) == 2


def test_edits_stickers_and_other_updates(assistant: Assistant, telegram: Telegram) -> None:
    user = telegram.user("Ivan", "ru")
    # Not text: a short reply in the user's Telegram language, nothing for the assistant.
    result = user.send_message(sticker={"file_id": "CAAD-sticker", "emoji": "👍",
                                        "width": 512, "height": 512, "is_animated": False})
    assert result["webhook_status"] == 200
    assert [m.shown for m in user.messages()] == [
        "Извините, я понимаю только текстовые сообщения. Пожалуйста, напишите ваш вопрос "
        "текстом."]
    english = telegram.user("Jane", None)
    english.send_message(photo=[{"file_id": "p1", "width": 90, "height": 90}],
                         caption="broken screen")
    assert [m.shown for m in english.messages()] == [
        "Sorry, I can only read text messages. Please type your question."]
    assert user_events(assistant, user) == []

    # An edited message is answered as a new message.
    sent = user.messages()
    edit = {"update_id": user.new_update_id(),
            "edited_message": user.message(message_id=77, text="где мой заказ?",
                                           edit_date=int(time.time()))}
    assert user.send_update(edit)["webhook_status"] == 200
    assert "ORB-104217" in "\n".join(m.shown for m in user.messages()[len(sent):])

    # Types the bot did not ask for: the emulator, like Telegram, does not deliver them...
    member = {"update_id": user.new_update_id(), "my_chat_member": {
        "chat": user.chat, "from": user.sender, "date": int(time.time()),
        "old_chat_member": {"status": "member", "user": user.sender},
        "new_chat_member": {"status": "kicked", "user": user.sender}}}
    assert user.send_update(member)["webhook_status"] == "filtered"
    # ...and delivered anyway (an old setting, a proxy) they are acknowledged and ignored.
    before = len(user.messages())
    events = len(user_events(assistant, user))
    for update in (
        member,
        {"update_id": user.new_update_id(), "channel_post": {
            "message_id": 1, "date": 1, "chat": {"id": -100123, "type": "channel"},
            "text": "news"}},
        {"update_id": user.new_update_id(), "callback_query": {
            "id": "77", "from": user.sender, "data": "/affirm", "inline_message_id": "i"}},
        {"update_id": user.new_update_id(), "message": {
            "message_id": 3, "date": 1, "from": user.sender,
            "chat": {"id": -5, "type": "group", "title": "friends"}, "text": "hi bot"}},
        {"update_id": user.new_update_id(), "message": user.message(
            new_chat_title="a service message")},
    ):
        status, body = telegram.post_webhook(update)
        assert (status, body) == (200, {"ok": True}), update
    time.sleep(0.5)
    assert len(user.messages()) == before
    assert len(user_events(assistant, user)) == events

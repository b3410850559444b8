"""The website chat widget in a real browser against the real stack: nothing the visitor
writes is lost or shown twice (offline, a dropped socket, a lost acknowledgement, a message
over the limit), and a token naming someone else's conversation gets a fresh one.

How the browser tests run: test_widget.py.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.e2e.widget_page import DESKTOP, WAIT_MS, WidgetPage, user_texts

if TYPE_CHECKING:
    from playwright.sync_api import Browser, WebSocketRoute

    from tests.e2e.conftest import Assistant

pytestmark = pytest.mark.e2e


def test_going_offline_loses_and_duplicates_nothing(browser: Browser,
                                                    assistant: Assistant) -> None:
    context = browser.new_context(viewport=DESKTOP)
    try:
        visitor = WidgetPage.new(context, assistant.url)
        visitor.open()
        visitor.reply_to("hello", "How can I help")
        visitor.connected()

        # Written while offline: shown at once as sending, sent once on reconnection.
        context.set_offline(True)
        expect(visitor.connection).to_have_text("Reconnecting…", timeout=WAIT_MS)
        visitor.say("where is my order?")
        pending = visitor.messages("user").last
        expect(pending).to_have_attribute("data-state", "sending")
        expect(pending).to_contain_text("Sending…")
        visitor.page.wait_for_timeout(1500)
        context.set_offline(False)
        visitor.connected()
        expect(visitor.connection).to_be_hidden()
        expect(pending).to_have_attribute("data-state", "sent", timeout=WAIT_MS)
        expect(visitor.messages("bot").filter(has_text="order number"))\
            .to_have_count(1, timeout=WAIT_MS)

        # Cut off right after sending: the answer comes with the history on reconnection.
        visitor.say("ORB 104388")
        context.set_offline(True)
        visitor.page.wait_for_timeout(3000)  # the assistant answers while the visitor is away
        context.set_offline(False)
        visitor.connected()
        expect(visitor.messages("bot").filter(has_text="e-mail address"))\
            .to_have_count(1, timeout=WAIT_MS)
        visitor.wait_sent()
        visitor.reply_to("ivan.petrov@example.ru", "PN987654321DE")

        said = user_texts(assistant, visitor.conversation_id())
        assert said == ["hello", "where is my order?", "ORB 104388", "ivan.petrov@example.ru"]
        assert visitor.texts("user") == said
        expect(visitor.messages("bot").filter(has_text="PN987654321DE")).to_have_count(1)
        visitor.assert_clean()
        # A reload agrees with what the reconnections put together.
        shown = visitor.ids()
        visitor.reload()
        expect(visitor.messages()).to_have_count(len(shown), timeout=WAIT_MS)
        assert visitor.ids() == shown
    finally:
        context.close()


def test_a_lost_acknowledgement_costs_no_message(browser: Browser,
                                                 assistant: Assistant) -> None:
    """The server takes a message but its ack never arrives: first the socket drops (the
    history after reconnecting shows the message), then the ack is only lost (the widget
    sends it again with the same client_id after its timeout; the server takes it once)."""
    frames: list[str] = []
    lose = {"ack": False, "drop": False}

    def relay(page_side: WebSocketRoute) -> None:
        server_side = page_side.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if isinstance(message, str) and '"user_uttered"' in message:
                frames.append(message)
            server_side.send(message)

        def to_page(message: str | bytes) -> None:
            if lose["ack"] and isinstance(message, str) and message.startswith("43"):
                lose["ack"] = False
                if lose["drop"]:
                    page_side.close(code=1006)
                    server_side.close()
                return
            page_side.send(message)

        page_side.on_message(to_server)
        server_side.on_message(to_page)

    context = browser.new_context(viewport=DESKTOP)
    try:
        visitor = WidgetPage(context.new_page(), assistant.url)
        visitor.page.route_web_socket(re.compile(r"/socket\.io/"), relay)
        visitor.goto()
        visitor.open()
        visitor.reply_to("hello", "How can I help")

        lose.update(ack=True, drop=True)
        visitor.reply_to("where is my order?", "order number")
        visitor.connected()
        visitor.wait_sent()

        lose.update(ack=True, drop=False)
        visitor.say("ORB 104388")
        expect(visitor.messages("bot").filter(has_text="e-mail address"))\
            .to_have_count(1, timeout=WAIT_MS)
        pending = visitor.messages("user").last
        expect(pending).to_have_attribute("data-state", "sent", timeout=WAIT_MS)
        resent = [f for f in frames if "ORB 104388" in f]
        ids = {re.search(r'"client_id":"([^"]+)"', f).group(1) for f in resent}  # type: ignore[union-attr]
        assert len(resent) == 2 and ids == {pending.get_attribute("data-id")}

        said = user_texts(assistant, visitor.conversation_id())
        assert said == ["hello", "where is my order?", "ORB 104388"]
        assert visitor.texts("user") == said
        visitor.assert_clean()
    finally:
        context.close()


def test_a_message_over_the_limit_is_not_sent_and_not_lost(browser: Browser,
                                                           assistant: Assistant) -> None:
    context = browser.new_context(viewport=DESKTOP)
    try:
        visitor = WidgetPage.new(context, assistant.url)
        visitor.open()
        counter = visitor.by("chat-counter")
        visitor.input.fill("a" * 3600)
        expect(counter).to_have_text("3600 / 4000 characters")
        visitor.input.fill("a" * 4001)
        expect(counter).to_have_text(re.compile(r"too long: at most 4000 characters \(4001"))
        expect(visitor.input).to_have_attribute("aria-invalid", "true")
        expect(visitor.by("chat-send")).to_be_disabled()
        visitor.input.press("Enter")
        expect(visitor.messages()).to_have_count(0)
        expect(visitor.input).to_have_value("a" * 4001)
        visitor.input.press("Backspace")
        expect(visitor.by("chat-send")).to_be_enabled()
        expect(counter).to_have_text("4000 / 4000 characters")
        visitor.assert_clean()
    finally:
        context.close()


def test_a_token_naming_someone_elses_conversation_is_refused(browser: Browser,
                                                               assistant: Assistant) -> None:
    first = browser.new_context(viewport=DESKTOP)
    second = browser.new_context(viewport=DESKTOP)
    try:
        owner = WidgetPage.new(first, assistant.url)
        owner.open()
        secret = f"my order is ORB-104388, note {uuid.uuid4().hex[:6]}"
        owner.say(secret)
        owner.wait_sent()
        victim_id = owner.conversation_id()

        intruder = WidgetPage.new(second, assistant.url)
        intruder.open()
        intruder.connected()
        own_token = intruder.token()
        own_mac = own_token.split(".", 1)[1]
        for forged in (victim_id, f"{victim_id}.{own_mac}", f"{victim_id}.{own_mac[:-2]}AA"):
            intruder.page.evaluate("t => localStorage.setItem('supportchat.token', t)", forged)
            intruder.reload()
            expect(intruder.panel).to_be_visible(timeout=WAIT_MS)
            intruder.connected()
            token = intruder.token()
            assert token not in (forged, own_token)
            assert not token.startswith(victim_id)
            expect(intruder.messages()).to_have_count(0)
            expect(intruder.messages(local=True)).to_have_count(1)  # the greeting only
            assert secret not in intruder.panel.inner_text()
        # The owner's conversation is untouched.
        assert user_texts(assistant, victim_id) == [secret]
    finally:
        first.close()
        second.close()

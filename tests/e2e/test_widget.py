"""The website chat widget in a real browser (Debian's Chromium) against the real stack:
a visitor's conversations with the assistant and with an agent.

A visitor uses the widget on the demo shop page (``/webhooks/widget/demo``), served by
the Rasa server's socket.io channel (rasa_plugins/channels/socketio.py); agents answer in the
agent console in browser contexts of their own. Each test uses its own browser context,
so its own visitor (localStorage token) and conversation. The other browser tests of the
widget: test_widget_delivery.py (going offline, lost acknowledgements, the length limit,
forged tokens) and test_widget_access.py (keyboard only, a phone-sized screen).

Screenshots go to results/screenshots/widget-desktop.png (here) and widget-360.png
(test_widget_access.py).
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import console_page
from tests.e2e.widget_page import (
    DESKTOP,
    WAIT_MS,
    WidgetPage,
    agent_reply,
    claim,
    settled_ids,
    squash,
    transcript,
    unique,
    user_texts,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.e2e.conftest import Assistant

pytestmark = pytest.mark.e2e

XSS = "<img src=x onerror=alert(1)>"
BOLD = "<b>bold</b>"
QUEUED = re.compile(r"^You're number \d+ in the queue, about \d+ min$")


def test_a_visitor_tracks_an_order_asks_a_question_and_talks_to_an_agent(
        browser: Browser, assistant: Assistant) -> None:
    username, name = unique("wanda"), f"Wanda {uuid.uuid4().hex[:4]}"
    assistant.add_agent(username, name)
    api = assistant.console(username)
    context = browser.new_context(viewport=DESKTOP)
    try:
        visitor = WidgetPage.new(context, assistant.url)
        expect(visitor.panel).to_be_hidden()
        expect(visitor.launcher).to_have_attribute("aria-expanded", "false")
        visitor.open()
        assert visitor.focused() == "chat-input"
        greeting = visitor.messages(local=True)
        expect(greeting).to_have_count(1)
        expect(greeting).to_contain_text("I'm Orbita's assistant")

        # Order status, verified with the order's e-mail (the clock is pinned).
        visitor.reply_to("where is my order?", "order number")
        visitor.reply_to("ORB 104388", "e-mail address")
        visitor.reply_to("ivan.petrov@example.ru", "PN987654321DE")
        answer = " ".join(visitor.texts("bot"))
        for fact in ("national post", "Wednesday, 25 November", "Friday, 27 November"):
            assert fact in answer
        visitor.wait_sent()
        shown = settled_ids(visitor)
        assert visitor.texts("user") == ["where is my order?", "ORB 104388",
                                         "ivan.petrov@example.ru"]
        conversation_id = visitor.conversation_id()
        assert re.fullmatch(r"web-[0-9a-f]{32}", conversation_id)

        # A reload shows the whole conversation (and keeps the chat open), once.
        visitor.reload()
        expect(visitor.panel).to_be_visible(timeout=WAIT_MS)
        expect(visitor.messages()).to_have_count(len(shown), timeout=WAIT_MS)
        assert visitor.ids() == shown
        assert visitor.messages(local=True).count() == len(shown)  # no greeting now

        # So does a second tab of the same visitor; from now on it follows live.
        tab = WidgetPage.new(context, assistant.url)
        tab.open()
        expect(tab.messages()).to_have_count(len(shown), timeout=WAIT_MS)
        assert tab.ids() == shown

        # A question answered from the knowledge base, with "did that help?" buttons.
        question = "hey, is it possible to pay for a laptop in monthly instalments?"
        faq = visitor.reply_to(question, "300 EUR")
        expect(faq.get_by_test_id("chat-button")).to_have_count(2)
        expect(tab.messages("user").filter(has_text="monthly instalments"))\
            .to_have_count(1, timeout=WAIT_MS)
        expect(tab.messages("bot").filter(has_text="300 EUR")).to_have_count(1, timeout=WAIT_MS)

        # "Talk to a person": queued, with the place in the queue above the input.
        visitor.by("chat-human").click()
        expect(visitor.messages("user").last).to_contain_text("I'd like to talk to a person")
        expect(visitor.status).to_have_attribute("data-state", "queued", timeout=WAIT_MS)
        expect(visitor.status).to_have_text(QUEUED)
        expect(visitor.by("chat-human")).to_be_disabled()
        expect(tab.status).to_have_attribute("data-state", "queued", timeout=WAIT_MS)
        ticket_id = api.ticket_of(conversation_id)["id"]

        with console_page(browser, assistant, username, WAIT_MS) as console:
            claim(console, ticket_id)
            expect(visitor.status).to_have_text(f"Chatting with {name}", timeout=WAIT_MS)
            expect(visitor.messages("bot", "system").filter(has_text="has joined the chat"))\
                .to_have_count(1)
            reply = "Hi, I'm here. Instalments work for the Aero 14: 6 months at 0 %."
            agent_reply(console, reply)
            said = visitor.messages("bot", "agent").filter(has_text="Instalments work")
            expect(said).to_have_count(1, timeout=WAIT_MS)
            expect(said.get_by_test_id("chat-agent-name")).to_have_text(name)
            assert visitor.texts("bot", "agent") == [reply]
            expect(tab.messages("bot", "agent")).to_have_count(1, timeout=WAIT_MS)
            expect(tab.status).to_have_text(f"Chatting with {name}")
            visitor.shot("widget-desktop")

            # The visitor's next message reaches the agent, and not the assistant.
            follow_up = "Great, can I choose 6 months at checkout?"
            visitor.say(follow_up)
            expect(transcript(console, "customer").filter(has_text="choose 6 months"))\
                .to_have_count(1, timeout=WAIT_MS)
            visitor.wait_sent()

            console.on("dialog", lambda dialog: dialog.accept())
            console.get_by_test_id("resolve-button").click()
            expect(console.get_by_test_id("ticket-status")).to_have_text("Resolved",
                                                                         timeout=WAIT_MS)
        expect(visitor.messages("bot", "system").filter(has_text="handed you back"))\
            .to_have_count(1, timeout=WAIT_MS)
        expect(visitor.status).to_have_attribute("data-state", "none")
        expect(visitor.status).to_be_hidden()
        expect(visitor.by("chat-human")).to_be_enabled()
        # The agent resolved it: the conversation has ended, so the survey follows.
        expect(visitor.messages("bot").filter(has_text="how satisfied are you with this chat"))\
            .to_have_count(1, timeout=WAIT_MS)

        # The assistant answers again.
        visitor.reply_to("do you accept paypal?", re.compile("paypal", re.IGNORECASE))
        assert user_texts(assistant, conversation_id).count(follow_up) == 1
        for page in (visitor, tab):
            page.assert_clean()
        expect(tab.messages()).to_have_count(visitor.messages().count(), timeout=WAIT_MS)
        assert tab.ids() == visitor.ids()
    finally:
        context.close()


def test_a_quick_reply_sends_its_payload_and_shows_its_title(browser: Browser,
                                                             assistant: Assistant) -> None:
    context = browser.new_context(viewport=DESKTOP)
    try:
        visitor = WidgetPage.new(context, assistant.url)
        visitor.open()
        visitor.reply_to("I'd like to return something I bought", "order number")
        visitor.reply_to("ORB-104217", "e-mail")
        visitor.reply_to("anna.schmidt@example.com", "Which item")
        items = visitor.visible_buttons()
        expect(items.first).to_be_visible()
        # The case is gone once the REST test (same shop, earlier in the session) returned it.
        assert items.all_text_contents() in (
            ["Nova 7 smartphone, 128 GB", "Nova 7 silicone case"], ["Nova 7 smartphone, 128 GB"])
        phone = items.filter(has_text="smartphone")
        payload = phone.get_attribute("data-payload")
        assert payload and payload.startswith("/")
        phone.click()
        expect(visitor.messages("user").last).to_contain_text("Nova 7 smartphone, 128 GB")
        expect(visitor.messages("bot").filter(has_text="Why are you returning"))\
            .to_have_count(1, timeout=WAIT_MS)
        # Only the latest bot message keeps its buttons.
        reasons = visitor.visible_buttons()
        expect(reasons).to_have_count(4)
        expect(reasons.first).to_be_enabled()
        old = visitor.messages("bot").filter(has_text="Which item").get_by_test_id("chat-button")
        expect(old.first).to_be_hidden()
        expect(old.first).to_be_disabled()
        visitor.wait_sent()
        said = user_texts(assistant, visitor.conversation_id())
        assert said[-1] == payload
        assert "Nova 7 smartphone, 128 GB" in visitor.texts("user")
        visitor.assert_clean()
    finally:
        context.close()


def test_markup_is_shown_as_text_on_both_sides(browser: Browser, assistant: Assistant) -> None:
    username, name = unique("xavier"), f"Xavier {uuid.uuid4().hex[:4]}"
    assistant.add_agent(username, name)
    api = assistant.console(username)
    context = browser.new_context(viewport=DESKTOP)
    try:
        visitor = WidgetPage.new(context, assistant.url)
        visitor.open()
        markup = f"{XSS} and {BOLD}"
        visitor.say(markup)
        visitor.wait_sent()
        expect(visitor.messages("bot")).not_to_have_count(0, timeout=WAIT_MS)
        assert visitor.texts("user") == [markup]
        visitor.by("chat-human").click()
        expect(visitor.status).to_have_attribute("data-state", "queued", timeout=WAIT_MS)
        ticket_id = api.ticket_of(visitor.conversation_id())["id"]

        with console_page(browser, assistant, username, WAIT_MS) as console:
            claim(console, ticket_id)
            customer = transcript(console, "customer")
            expect(customer.filter(has_text=BOLD)).to_have_count(1, timeout=WAIT_MS)
            assert squash(markup) in [squash(t) for t in
                                      customer.locator(".msg-text").all_text_contents()]
            assert console.get_by_test_id("transcript").locator("img, b").count() == 0
            links = ("See [our returns page](https://orbita.example/returns), "
                     "https://orbita.example/help. Not javascript:alert(1) or "
                     "[this](javascript:alert(2)).")
            agent_reply(console, f"Got it: {BOLD} {XSS}\n{links}")
            said = visitor.messages("bot", "agent")
            expect(said).to_have_count(1, timeout=WAIT_MS)
            assert visitor.texts("bot", "agent") == [
                f"Got it: {BOLD} {XSS}\nSee our returns page, https://orbita.example/help. "
                "Not javascript:alert(1) or [this](javascript:alert(2))."]
            anchors = said.locator("a")
            expect(anchors).to_have_count(2)
            assert [a.get_attribute("href") for a in anchors.all()] == [
                "https://orbita.example/returns", "https://orbita.example/help"]
            for anchor in anchors.all():
                assert anchor.get_attribute("target") == "_blank"
                assert anchor.get_attribute("rel") == "noopener noreferrer"
            assert said.locator(".sc-bubble").evaluate(
                "el => getComputedStyle(el).whiteSpace") == "pre-wrap"
            console.on("dialog", lambda dialog: dialog.accept())
            console.get_by_test_id("resolve-button").click()
            expect(console.get_by_test_id("ticket-status")).to_have_text("Resolved",
                                                                         timeout=WAIT_MS)
        panel = visitor.panel
        assert panel.locator("img, b, script").count() == 0
        assert visitor.page.evaluate("document.querySelectorAll('img').length") == 0
        visitor.assert_clean()
    finally:
        context.close()

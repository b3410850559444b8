"""The website chat widget in a real browser (Debian's Chromium) against the real stack.

A visitor uses the widget on the demo shop page (``/webhooks/widget/demo``), served by
the Rasa server's socket.io channel (rasa_plugins/channels/socketio.py); agents answer in the
agent console in browser contexts of their own. Each test uses its own browser context,
so its own visitor (localStorage token) and conversation.

Screenshots go to results/screenshots/widget-desktop.png and widget-360.png.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import console_page
from tests.e2e.widget_page import (
    WAIT_MS,
    WidgetPage,
    agent_reply,
    claim,
    squash,
    transcript,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, WebSocketRoute

    from tests.e2e.conftest import Assistant

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
XSS = "<img src=x onerror=alert(1)>"
BOLD = "<b>bold</b>"
QUEUED = re.compile(r"^You're number \d+ in the queue, about \d+ min$")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def user_texts(assistant: Assistant, conversation_id: str) -> list[str]:
    """What the conversation's record holds as said by the visitor (one event per message)."""
    events = assistant.tracker(conversation_id)["events"]
    return [e.get("text") or "" for e in events if e.get("event") == "user"]


def settled_ids(page: WidgetPage, quiet_seconds: float = 1.5, timeout: float = 20) -> list[str]:
    """The message ids once no message has arrived for ``quiet_seconds``: a turn's
    answer can come in several messages, and a busy machine spaces them out."""
    deadline = time.monotonic() + timeout
    ids, since = page.ids(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = page.ids()
        if now != ids:
            ids, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_seconds:
            break
    return ids


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


def test_keyboard_only(browser: Browser, assistant: Assistant) -> None:
    context = browser.new_context(viewport=DESKTOP)
    try:
        visitor = WidgetPage.new(context, assistant.url)
        page = visitor.page
        for _ in range(40):  # the launcher comes after the shop's own links and buttons
            page.keyboard.press("Tab")
            if visitor.focused() == "chat-launcher":
                break
        assert visitor.focused() == "chat-launcher"
        expect(visitor.launcher).to_have_attribute("aria-label", "Open the support chat")
        page.keyboard.press("Enter")
        expect(visitor.panel).to_be_visible()
        expect(visitor.panel).to_have_attribute("role", "dialog")
        expect(visitor.panel).to_have_attribute("aria-label", "Orbita support")
        assert visitor.focused() == "chat-input"

        page.keyboard.type("first line")
        page.keyboard.press("Shift+Enter")
        page.keyboard.type("second line")
        page.keyboard.press("Enter")
        expect(visitor.messages("user")).to_have_count(1)
        assert visitor.texts("user") == ["first line\nsecond line"]
        expect(visitor.messages("bot")).not_to_have_count(0, timeout=WAIT_MS)

        page.keyboard.type("do you accept paypal?")
        page.keyboard.press("Enter")
        helped = visitor.visible_buttons().filter(has_text="Yes")
        expect(helped).to_have_count(1, timeout=WAIT_MS)
        for _ in range(6):  # back from the input to the answer's buttons
            page.keyboard.press("Shift+Tab")
            if visitor.focused() == "chat-button":
                break
        assert visitor.focused() == "chat-button"
        focused_title = page.evaluate(
            "document.querySelector('[data-supportchat]').shadowRoot.activeElement.textContent")
        page.keyboard.press("Enter")
        expect(visitor.messages("user").last).to_have_text(
            re.compile(re.escape(focused_title)), timeout=WAIT_MS)
        assert visitor.focused() == "chat-input"

        page.keyboard.press("Escape")
        expect(visitor.panel).to_be_hidden()
        expect(visitor.launcher).to_have_attribute("aria-expanded", "false")
        assert visitor.focused() == "chat-launcher"
        page.keyboard.press("Enter")
        expect(visitor.panel).to_be_visible()
        assert visitor.focused() == "chat-input"
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


def test_a_phone_sized_screen_in_ukrainian(browser: Browser, assistant: Assistant) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        visitor = WidgetPage.new(context, assistant.url, lang="uk")
        expect(visitor.launcher).to_have_attribute("aria-label", "Відкрити чат підтримки")
        visitor.open()
        box = visitor.panel.bounding_box()
        assert box == {"x": 0, "y": 0, "width": 360, "height": 740}
        expect(visitor.launcher).to_be_hidden()  # the panel's own close button closes it
        expect(visitor.input).to_have_attribute("placeholder", "Напишіть повідомлення…")
        expect(visitor.by("chat-human")).to_have_text("Поговорити з працівником")
        visitor.reply_to("чи можна оплатити ноутбук частинами?", "300 EUR")
        buttons = visitor.visible_buttons()
        expect(buttons).to_have_count(2)
        before = visitor.messages("bot").count()
        visitor.visible_buttons().filter(has_text="Ні, не допомогло").click()
        expect(visitor.messages("bot")).not_to_have_count(before, timeout=WAIT_MS)
        expect(visitor.messages("user").last).to_contain_text("Ні, не допомогло")
        for button in visitor.visible_buttons().all() + [visitor.by("chat-human")]:
            edge = button.bounding_box()
            assert edge is not None
            assert edge["x"] >= 0 and edge["x"] + edge["width"] <= 360
        assert visitor.page.evaluate("document.documentElement.scrollWidth") <= 360
        log = visitor.by("chat-log")
        assert log.evaluate("el => el.scrollWidth <= el.clientWidth")
        visitor.shot("widget-360")
        visitor.by("chat-human").click()
        expect(visitor.status).to_have_text(
            re.compile(r"^Ваш номер у черзі: \d+, очікування близько \d+ хв$"), timeout=WAIT_MS)
        visitor.assert_clean()
        # Leave nothing open in the shared queue.
        api = assistant.console(unique("ulyana"))
        ticket_id = api.ticket_of(visitor.conversation_id())["id"]
        assert api.act(ticket_id, "claim")[0] == 200
        assert api.act(ticket_id, "resolve")[0] == 200
    finally:
        context.close()

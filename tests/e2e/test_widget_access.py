"""The website chat widget in a real browser against the real stack: used with the
keyboard only, and on a phone-sized screen in Ukrainian (results/screenshots/widget-360.png).

How the browser tests run: test_widget.py.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.e2e.widget_page import DESKTOP, PHONE, WAIT_MS, WidgetPage, unique

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.e2e.conftest import Assistant

pytestmark = pytest.mark.e2e


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

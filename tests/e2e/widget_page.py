"""The website chat widget as the browser tests drive it, and the agent console beside it.

``WidgetPage`` wraps one tab of the demo shop (``/webhooks/widget/demo``). Playwright's CSS
selectors pierce the widget's open shadow root, so the ``data-testid`` hooks work as on any
page; what needs the shadow root itself (the focused element) is read with ``evaluate``.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import TYPE_CHECKING

from playwright.sync_api import expect

from bot import processes

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Dialog, Locator, Page

    from tests.e2e.conftest import Assistant


WAIT_MS = 20_000  # an answer of the assistant, or a change pushed by the server
SCREENSHOTS = processes.ROOT / "results" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}

# The bubble's text without the visually hidden speaker ("Assistant: ") before it.
BUBBLE_TEXTS = """els => els.map(el => {
    const bubble = el.querySelector('.sc-bubble');
    if (!bubble) return '';
    return Array.from(bubble.childNodes)
        .filter(n => !(n.classList && n.classList.contains('sc-vh')))
        .map(n => n.textContent).join('');
})"""
FOCUSED = """() => {
    const host = document.querySelector('[data-supportchat]');
    if (!host || document.activeElement !== host) return null;
    const el = host.shadowRoot.activeElement;
    return el ? (el.dataset.testid || el.tagName.toLowerCase()) : null;
}"""

LEFT_ON_PAGE = """() => ({parts: '__supportChatParts' in window,
                        api: Object.keys(window.SupportChatWidget || {})})"""


def squash(text: str) -> str:
    return " ".join(text.split())


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def user_texts(assistant: Assistant, conversation_id: str) -> list[str]:
    """What the conversation's record holds as said by the visitor (one event per message)."""
    events = assistant.tracker(conversation_id)["events"]
    return [e.get("text") or "" for e in events if e.get("event") == "user"]


class WidgetPage:
    """One tab of the demo shop with the chat widget."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    @classmethod
    def new(cls, context: BrowserContext, base_url: str, lang: str | None = None) -> WidgetPage:
        widget = cls(context.new_page(), base_url)
        widget.goto(lang)
        return widget

    def goto(self, lang: str | None = None) -> None:
        query = f"?lang={lang}" if lang else ""
        self.page.goto(f"{self.base_url}/webhooks/widget/demo{query}")
        expect(self.launcher).to_be_visible(timeout=WAIT_MS)

    def reload(self) -> None:
        self.page.reload()
        expect(self.launcher).to_be_attached(timeout=WAIT_MS)

    # --- parts -------------------------------------------------------------------------------

    def by(self, test_id: str) -> Locator:
        return self.page.get_by_test_id(test_id)

    @property
    def launcher(self) -> Locator:
        return self.by("chat-launcher")

    @property
    def panel(self) -> Locator:
        return self.by("chat-panel")

    @property
    def input(self) -> Locator:
        return self.by("chat-input")

    @property
    def status(self) -> Locator:
        return self.by("chat-status")

    @property
    def connection(self) -> Locator:
        return self.by("chat-connection")

    def messages(self, role: str | None = None, origin: str | None = None,
                 local: bool = False) -> Locator:
        """Shown messages; the greeting (shown only by the page) is left out unless local."""
        selector = '[data-testid="chat-message"]'
        if role:
            selector += f'[data-role="{role}"]'
        if origin:
            selector += f'[data-from="{origin}"]'
        if not local:
            selector += ":not([data-local])"
        return self.page.locator(selector)

    def texts(self, role: str | None = None, origin: str | None = None) -> list[str]:
        return list(self.messages(role, origin).evaluate_all(BUBBLE_TEXTS))

    def ids(self) -> list[str]:
        return [m.get_attribute("data-id") or "" for m in self.messages().all()]

    def focused(self) -> str | None:
        return self.page.evaluate(FOCUSED)

    def token(self) -> str:
        return str(self.page.evaluate("localStorage.getItem('supportchat.token')") or "")

    def conversation_id(self) -> str:
        return self.token().split(".", 1)[0]

    def visible_buttons(self) -> Locator:
        return self.page.locator('[data-testid="chat-button"]:visible')

    # --- doing things ------------------------------------------------------------------------

    def open(self) -> None:
        if not self.panel.is_visible():
            self.launcher.click()
        expect(self.panel).to_be_visible()
        expect(self.launcher).to_have_attribute("aria-expanded", "true")

    def connected(self) -> None:
        """Wait until the session is confirmed (the connection notice is gone)."""
        expect(self.connection).to_have_attribute("data-state", "online", timeout=WAIT_MS)

    def say(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def reply_to(self, text: str, expected: str | re.Pattern[str],
                 origin: str = "assistant") -> Locator:
        """Say something and wait for the bot's answer that contains ``expected``."""
        answers = self.messages("bot", origin).filter(has_text=expected)
        before = answers.count()
        self.say(text)
        expect(answers).not_to_have_count(before, timeout=WAIT_MS)
        return answers.last

    def wait_sent(self) -> None:
        """Every message of the visitor's is acknowledged by the server."""
        expect(self.page.locator('[data-testid="chat-message"][data-state="sending"]'))\
            .to_have_count(0, timeout=WAIT_MS)

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))

    def assert_clean(self) -> None:
        """No script error, no dialog (an injected alert), no message shown twice."""
        assert self.errors == []
        assert self.dialogs == []
        ids = self.ids()
        assert len(ids) == len(set(ids)), ids
        # widget.js's parts leave nothing on the shop's page but the public API.
        assert self.page.evaluate(LEFT_ON_PAGE) == {"parts": False,
                                                    "api": ["version", "open", "close"]}


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


def claim(console: Page, ticket_id: int) -> None:
    item = console.get_by_test_id("queue-list").locator(
        f'[data-testid="queue-item"][data-ticket-id="{ticket_id}"]')
    expect(item).to_have_attribute("data-status", "queued", timeout=WAIT_MS)
    item.get_by_test_id("claim-button").click()
    view = console.get_by_test_id("ticket-view")
    expect(view).to_have_attribute("data-ticket-id", str(ticket_id), timeout=WAIT_MS)
    expect(view).to_have_attribute("data-status", "assigned", timeout=WAIT_MS)


def agent_reply(console: Page, text: str) -> None:
    console.get_by_test_id("reply-input").fill(text)
    console.get_by_test_id("reply-send").click()
    expect(console.get_by_test_id("reply-input")).to_have_value("", timeout=WAIT_MS)


def transcript(console: Page, kind: str) -> Locator:
    return console.get_by_test_id("transcript").locator(
        f'[data-testid="message"][data-kind="{kind}"]')

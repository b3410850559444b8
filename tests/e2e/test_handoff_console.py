"""The agent console in a real browser (Debian's Chromium) against the real stack.

A customer talks to the assistant over REST and asks for a person; an agent signs in
through the login page, claims the chat, replies, reads the customer's messages as they
arrive over the WebSocket, and hands the customer back. Every test opens a browser
context of its own and uses agents and conversations of its own.

Browser tests are plain sync functions (tests/conftest.py: Playwright's sync API).
Screenshots of the key steps go to results/screenshots/console-*.png.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from bot import processes
from tests.e2e.conftest import Assistant, Console, console_page, new_sender

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Locator, Page, Route

pytestmark = pytest.mark.e2e

SCREENSHOTS = processes.ROOT / "results" / "screenshots"
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
BOLD = "<b>bold</b>"
WAIT_MS = 10_000  # a UI change driven by the server (WebSocket, feed, delivery)


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"), full_page=True)


def squash(text: str) -> str:
    return " ".join(text.split())


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def escalate(assistant: Assistant, sender: str, *before: str) -> None:
    """The customer talks to the assistant, then asks for a person and is queued."""
    for text in before:
        assistant.send(sender, text)
    answer = assistant.texts(sender, "I want to talk to a person")
    assert "passing you to a person" in answer, answer
    assistant.wait_pushed(sender, lambda m: "in the queue" in m["text"])


def row(page: Page, ticket_id: int) -> Locator:
    return page.get_by_test_id("queue-list").locator(
        f'[data-testid="queue-item"][data-ticket-id="{ticket_id}"]')


def transcript_of(page: Page, kind: str) -> Locator:
    return page.get_by_test_id("transcript").locator(f'[data-testid="message"][data-kind="{kind}"]')


def texts_of(page: Page, kind: str) -> list[str]:
    return [squash(t) for t in transcript_of(page, kind).locator(".msg-text")
            .all_text_contents()]


def claim_in_page(page: Page, ticket_id: int) -> None:
    item = row(page, ticket_id)
    expect(item).to_have_attribute("data-status", "queued", timeout=WAIT_MS)
    item.get_by_test_id("claim-button").click()
    view = page.get_by_test_id("ticket-view")
    expect(view).to_be_visible(timeout=WAIT_MS)
    expect(view).to_have_attribute("data-ticket-id", str(ticket_id))
    expect(view).to_have_attribute("data-status", "assigned", timeout=WAIT_MS)
    expect(page.get_by_test_id("reply-input")).to_be_visible()


def pushed_texts(assistant: Assistant, sender: str) -> list[str]:
    return [m["text"] for m in assistant.pushed(sender)["messages"]]


def test_an_agent_takes_over_answers_and_hands_back(browser: Browser,
                                                    assistant: Assistant) -> None:
    sender = new_sender("console-story")
    username, name = unique("anna"), f"Anna {uuid.uuid4().hex[:4]}"
    assistant.add_agent(username, name)
    api = assistant.console(username)  # the same agent's API, to find the ticket's id

    greeting = assistant.send(sender, "hello")
    question = "hey, is it possible to pay for a laptop in monthly instalments?"
    answer = assistant.send(sender, question)
    assert greeting and answer
    escalate(assistant, sender)
    ticket_id = api.ticket_of(sender)["id"]

    with console_page(browser, assistant, username) as page:
        expect(page.get_by_test_id("agent-name")).to_have_text(name)
        item = row(page, ticket_id)
        expect(item).to_be_visible(timeout=WAIT_MS)
        expect(item).to_have_attribute("data-status", "queued")
        # The waiting time ticks once a second, without any request.
        wait = item.get_by_test_id("wait-time")
        expect(wait).to_have_text(re.compile(r"^\d\d:\d\d$"))
        expect(wait).not_to_have_text(wait.text_content() or "", timeout=2500)
        shot(page, "queue")

        claim_in_page(page, ticket_id)
        expect(page.get_by_test_id("ticket-reason")).to_have_text("Asked for a person")
        expect(page.get_by_test_id("ticket-status")).to_have_text("Assigned to you")
        expect(transcript_of(page, "customer")).to_have_count(3, timeout=WAIT_MS)
        assert texts_of(page, "customer") == ["hello", question,
                                              "I want to talk to a person"]
        assistant_said = " ".join(texts_of(page, "assistant"))
        for reply in greeting + answer:
            if reply.get("text"):
                assert squash(reply["text"]) in assistant_said
        joined = assistant.wait_pushed(sender, lambda m: "has joined the chat" in m["text"])
        assert joined["text"].startswith(f"{name} from our support team")
        shot(page, "claimed")

        reply_text = "Hi, I'm Anna. Yes: instalments work for laptops over 300 EUR."
        page.get_by_test_id("reply-input").fill(reply_text)
        page.get_by_test_id("reply-send").click()
        expect(transcript_of(page, "agent").filter(has_text="instalments work"))\
            .to_have_count(1, timeout=WAIT_MS)
        pushed = assistant.wait_pushed(sender, lambda m: m["text"] == reply_text)
        assert pushed["from"] == "agent"
        assert pushed["agent_name"] == name
        expect(page.get_by_test_id("reply-input")).to_have_value("")

        # The customer answers: the assistant stays quiet, the agent reads it live.
        customer_text = "Great, can I split it over 12 months?"
        assert assistant.send(sender, customer_text) == []
        expect(transcript_of(page, "customer").filter(has_text="split it over 12 months"))\
            .to_have_count(1, timeout=5000)
        shot(page, "reply")

        dialogs: list[str] = []

        def accept(dialog: Dialog) -> None:
            dialogs.append(dialog.type)
            dialog.accept()

        page.on("dialog", accept)
        page.get_by_test_id("resolve-button").click()
        handback = assistant.wait_pushed(
            sender, lambda m: "handed you back to the assistant" in m["text"])
        assert handback["text"].startswith(name)
        assert dialogs == ["confirm"]
        expect(page.get_by_test_id("ticket-status")).to_have_text("Resolved", timeout=WAIT_MS)
        expect(item).to_have_count(0, timeout=WAIT_MS)  # no longer open
        shot(page, "resolved")

    # The assistant answers again.
    again = assistant.texts(sender, "where is my order?")
    assert again.strip()
    assert "order number" in again, again
    status, detail = api.call("GET", f"/api/tickets/{ticket_id}")
    assert status == 200
    assert detail["ticket"]["status"] == "resolved"


def test_customer_markup_is_shown_as_text(browser: Browser, assistant: Assistant) -> None:
    sender = new_sender("console-xss")
    username = unique("xss-agent")
    assistant.add_agent(username, "Xss Checker")
    api = assistant.console(username)
    before = f"{XSS} {BOLD}"
    escalate(assistant, sender, before)
    ticket_id = api.ticket_of(sender)["id"]

    with console_page(browser, assistant, username) as page:
        dialogs: list[str] = []
        resolving = {"now": False}

        def on_dialog(dialog: Dialog) -> None:  # only the resolve confirmation is expected
            dialogs.append(f"{dialog.type}: {dialog.message}")
            if resolving["now"]:
                dialog.accept()
            else:
                dialog.dismiss()

        page.on("dialog", on_dialog)
        claim_in_page(page, ticket_id)
        assert assistant.send(sender, XSS) == []
        assert assistant.send(sender, BOLD) == []
        customer = transcript_of(page, "customer")
        expect(customer.filter(has_text="<b>bold</b>")).to_have_count(2, timeout=WAIT_MS)
        expect(customer.filter(has_text="window.__xss=2")).to_have_count(2)
        assert texts_of(page, "customer") == [before, "I want to talk to a person", XSS, BOLD]
        transcript = page.get_by_test_id("transcript")
        assert XSS in transcript.inner_text()
        assert BOLD in transcript.inner_text()
        assert transcript.locator("img").count() == 0
        assert transcript.locator("b").count() == 0
        assert transcript.locator("script").count() == 0
        assert page.locator("img").count() == 0
        # Only the console's own files: its module, the modules it imports, and the
        # vendored chart library; nothing the messages carried.
        sources = page.eval_on_selector_all("script", "nodes => nodes.map(n => n.src)")
        assert sorted(src.split("/static/")[1] for src in sources) == [
            "console.js", "vendor/chart.umd.min.js"]
        loaded = page.evaluate(
            "performance.getEntriesByType('resource').filter(e => e.initiatorType === 'script'"
            " || e.name.endsWith('.js')).map(e => new URL(e.name).pathname)")
        assert loaded and all(path.startswith("/static/") for path in loaded), loaded
        assert "/static/console_ticket.js" in loaded
        assert page.evaluate("typeof window.__xss") == "undefined"
        assert page.evaluate("window.__xss") is None
        # The agent's own markup is text as well, in the page and for the customer.
        page.get_by_test_id("reply-input").fill(f"Got it: {BOLD}")
        page.get_by_test_id("reply-send").click()
        expect(transcript_of(page, "agent").filter(has_text="Got it: <b>bold</b>"))\
            .to_have_count(1, timeout=WAIT_MS)
        assistant.wait_pushed(sender, lambda m: m["text"] == f"Got it: {BOLD}")
        page.reload()  # the history rendered from the API, not only the live messages
        expect(page.get_by_test_id("ws-status")).to_have_attribute("data-state", "open",
                                                                    timeout=WAIT_MS)
        row(page, ticket_id).locator("[data-role=open]").click()
        expect(customer).to_have_count(4, timeout=WAIT_MS)
        assert texts_of(page, "customer")[2:] == [XSS, BOLD]
        assert page.locator("img").count() == 0
        assert page.get_by_test_id("transcript").locator("b").count() == 0
        assert page.evaluate("typeof window.__xss") == "undefined"
        shot(page, "xss")
        assert dialogs == []
        resolving["now"] = True
        page.get_by_test_id("resolve-button").click()
        expect(page.get_by_test_id("ticket-status")).to_have_text("Resolved", timeout=WAIT_MS)


def test_note_transfer_and_release_between_two_agents(browser: Browser,
                                                      assistant: Assistant) -> None:
    sender = new_sender("console-transfer")
    first, second = unique("first"), unique("second")
    first_name, second_name = f"Olga {uuid.uuid4().hex[:4]}", f"Piotr {uuid.uuid4().hex[:4]}"
    assistant.add_agent(first, first_name)
    assistant.add_agent(second, second_name)
    api = assistant.console(first)
    escalate(assistant, sender, "hi")
    ticket_id = api.ticket_of(sender)["id"]

    with console_page(browser, assistant, first) as page, \
            console_page(browser, assistant, second) as other:
        claim_in_page(page, ticket_id)
        other_row = row(other, ticket_id)
        expect(other_row).to_have_attribute("data-status", "assigned", timeout=WAIT_MS)
        expect(other_row).to_contain_text(f"With {first_name}")

        note = f"Internal: customer is a VIP {uuid.uuid4().hex[:6]}"
        page.get_by_test_id("note-input").fill(note)
        page.get_by_test_id("note-send").click()
        notes = transcript_of(page, "note")
        expect(notes).to_have_count(1, timeout=WAIT_MS)
        expect(notes).to_contain_text(note)
        expect(notes).to_contain_text("not sent to the customer")

        # Transfer to the second agent (the select lists the others, by id).
        option = page.get_by_test_id("transfer-select").locator("option",
                                                                has_text=second_name)
        expect(option).to_have_count(1, timeout=WAIT_MS)
        page.get_by_test_id("transfer-select").select_option(option.get_attribute("value"))
        page.get_by_test_id("transfer-button").click()
        taking_over = assistant.wait_pushed(
            sender, lambda m: "is taking over your chat" in m["text"])
        assert taking_over["text"].startswith(second_name)
        # Delivery is in order: the note, written before, would have been pushed by now.
        assert not any(note in text for text in pushed_texts(assistant, sender))
        expect(page.get_by_test_id("ticket-status")).to_have_text(
            f"Assigned to {second_name}", timeout=WAIT_MS)
        expect(page.get_by_test_id("reply-input")).to_be_hidden()
        detail = api.ticket(ticket_id)
        assert detail["ticket"]["status"] == "assigned"
        assert detail["ticket"]["agent"]["display_name"] == second_name
        assert [m["kind"] for m in detail["messages"] if m["text"] == note] == ["note"]
        shot(page, "transferred")

        expect(other_row).to_contain_text("With you", timeout=WAIT_MS)
        other_row.locator("[data-role=open]").click()
        expect(other.get_by_test_id("ticket-status")).to_have_text("Assigned to you",
                                                                   timeout=WAIT_MS)
        expect(transcript_of(other, "note")).to_contain_text(note)  # agents see notes
        other.get_by_test_id("release-button").click()
        assistant.wait_pushed(sender, lambda m: "back in the queue" in m["text"])
        assistant.wait_pushed(sender, lambda m: m["text"].startswith("You're number")
                              and m["timestamp"] > taking_over["timestamp"])
        for view in (page, other):
            expect(row(view, ticket_id)).to_have_attribute("data-status", "queued",
                                                           timeout=WAIT_MS)
            expect(row(view, ticket_id).get_by_test_id("claim-button")).to_be_visible()
        expect(other.get_by_test_id("ticket-claim-button")).to_be_visible()
        assert api.ticket(ticket_id)["ticket"]["agent"] is None
        assert not any(note in text for text in pushed_texts(assistant, sender))
        shot(other, "released")

        # Leave nothing open in the shared queue.
        claim_in_page(other, ticket_id)
        other.on("dialog", lambda dialog: dialog.accept())
        other.get_by_test_id("resolve-button").click()
        expect(other.get_by_test_id("ticket-status")).to_have_text("Resolved", timeout=WAIT_MS)


def test_pickup_target_highlight(browser: Browser, assistant: Assistant) -> None:
    """The 4-minute target: nothing right after the escalation, "near" from 3 minutes,
    "over" after 4. The queue's answers are rewritten (page.route) to make the ticket
    older than it is, so the real page logic runs without waiting minutes."""
    sender = new_sender("console-target")
    username = unique("target")
    assistant.add_agent(username, "Tara Target")
    api: Console = assistant.console(username)
    escalate(assistant, sender)
    ticket_id = api.ticket_of(sender)["id"]
    status, me = api.call("GET", "/api/me")
    assert status == 200
    assert me["pickup_target_seconds"] == 240

    age: dict[str, Any] = {"seconds": 0, "off_hours": False}

    def older(route: Route) -> None:
        try:
            response = route.fetch()
            body = response.json()
            for ticket in body.get("tickets", []):
                if ticket["id"] == ticket_id and age["seconds"]:
                    ticket["created_at"] = _shifted(ticket["created_at"], age["seconds"])
                    # The pickup clock: from the escalation, or none yet outside agent hours.
                    ticket["pickup_clock_at"] = None if age["off_hours"] else ticket["created_at"]
            route.fulfill(response=response, body=json.dumps(body))
        except PlaywrightError as exc:
            # A reload cancels the old page's queue request while it is being rewritten;
            # the new page asks again. Anything else is a real failure.
            if "already handled" not in str(exc):
                raise

    with console_page(browser, assistant, username) as page:
        item = row(page, ticket_id)
        expect(item).to_be_visible(timeout=WAIT_MS)
        wait = item.get_by_test_id("wait-time")
        expect(wait).to_have_text(re.compile(r"^00:\d\d$"))
        assert wait.get_attribute("data-highlight") == "1"
        page.wait_for_timeout(1200)  # at least one tick after the row was drawn
        for element in (item, wait):
            classes = element.get_attribute("class") or ""
            assert "near-target" not in classes
            assert "over-target" not in classes
        assert item.locator(".over-label").is_hidden()

        page.route("**/api/queue", older)
        for seconds, near, over in [(150, False, False), (200, True, False),
                                    (300, False, True)]:
            age["seconds"] = seconds
            page.reload()
            item = row(page, ticket_id)
            wait = item.get_by_test_id("wait-time")
            expect(wait).to_have_text(re.compile(rf"^0{seconds // 60}:\d\d$"), timeout=WAIT_MS)
            for element in (item, wait):
                check = expect(element)
                for name, on in (("near-target", near), ("over-target", over)):
                    pattern = re.compile(rf"\b{name}\b")
                    if on:
                        check.to_have_class(pattern)
                    else:
                        check.not_to_have_class(pattern)
            label = item.locator(".over-label")
            if over:
                expect(label).to_be_visible()
                expect(label).to_have_text("over 4 min")
                shot(page, "over-target")
            else:
                expect(label).to_be_hidden()
                if near:
                    shot(page, "near-target")
        # Queued overnight, before agent hours: no pickup clock runs, however long the wait.
        age.update(seconds=600, off_hours=True)
        page.reload()
        item = row(page, ticket_id)
        wait = item.get_by_test_id("wait-time")
        expect(wait).to_have_text(re.compile(r"^10:\d\d$"), timeout=WAIT_MS)
        page.wait_for_timeout(1200)
        for element in (item, wait):
            expect(element).not_to_have_class(re.compile(r"\b(near|over)-target\b"))
        page.unroute_all(behavior="ignoreErrors")
    assert api.act(ticket_id, "claim")[0] == 200
    assert api.act(ticket_id, "resolve")[0] == 200


def _shifted(iso_time: str, seconds: int) -> str:
    return (datetime.fromisoformat(iso_time) - timedelta(seconds=seconds)).isoformat()


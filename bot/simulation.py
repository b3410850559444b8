"""A simulated support day, driven through the real running services.

Customers talk to the assistant over REST (``/webhooks/rest/webhook``, pushed messages
from ``/webhooks/rest/messages``); agents work in the console's HTTP API (log in, claim,
reply, resolve). The mix: FAQ answers that helped or did not, order tracking, questions
the knowledge base cannot answer (two in a row escalate), customers asking for a person
who are picked up quickly, late (past the pickup target: an alert) or who give up, people
who leave mid-job, smalltalk only, and customers who come back within the day. Surveys
get known answers.

Every conversation's ``Record`` says what the script did and saw. ``expected`` computes
the service metrics from those records alone, so a test can compare them with what the
product computed from its own record. ``python -m bot demo`` runs it to fill a demo
dashboard; the end-to-end test runs it against a stack of its own.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import datetime
from typing import Any

import aiohttp

from bot.console_client import Console
from bot.day_record import Record

LANGUAGES = ("en", "ru", "uk")
# FAQ questions (held-out evaluation questions) and the article that answers them.
FAQ = {
    "en": [("how long do i have to send something back", "return-window"),
           ("how long is the warranty on a phone", "warranty-period"),
           ("which payment methods do you accept", "payment-methods")],
    "ru": [("сколько дней на возврат товара", "return-window"),
           ("какой срок гарантии на телефон", "warranty-period"),
           ("какие способы оплаты вы принимаете", "payment-methods")],
    "uk": [("скільки днів є на повернення товару", "return-window"),
           ("який термін гарантії на телефон", "warranty-period"),
           ("які способи оплати ви приймаєте", "payment-methods")],
}
# Questions the shop has no article for, in groups that mean the same thing: the
# "top unanswered topics" must group them like this.
UNANSWERED = {
    "loyalty programme": {"en": ["do you have a loyalty program"],
                          "ru": ["есть ли программа лояльности"],
                          "uk": ["чи є програма лояльності"]},
    "student discount": {"en": ["do you offer discounts for students"],
                         "ru": ["есть ли скидка для студентов"],
                         "uk": ["чи є знижка для студентів"]},
}
GREETING = {"en": "hello", "ru": "здравствуйте", "uk": "добрий день"}
GOODBYE = {"en": "bye", "ru": "до свидания", "uk": "до побачення"}
THANKS = {"en": "thank you", "ru": "спасибо", "uk": "дякую"}
STATUS = {"en": "what's happening with my request to talk to someone?",
          "ru": "что с моим запросом на оператора?", "uk": "що з моїм запитом на оператора?"}
# What a customer types to start a job (typed "/intent" shorthand is read as words).
TRACK = {"en": "where is my order?", "ru": "где мой заказ?", "uk": "де моє замовлення?"}
RETURN = {"en": "I want to return an item", "ru": "хочу вернуть товар",
          "uk": "хочу повернути товар"}
CANCEL = {"en": "cancel", "ru": "отмена", "uk": "скасувати"}
COMMENT = {"en": "quick and clear, thanks", "ru": "быстро и понятно", "uk": "швидко і зрозуміло"}
EMAIL_OF = {"ORB-104217": "anna.schmidt@example.com"}
SURVEY_ANSWER = "/survey_answer"
SKIP = "/survey_skip"

SCENARIOS = ("faq_helped", "faq_not_helped", "track", "unanswered", "human_fast",
             "human_late", "human_cancel", "leave_mid_job", "smalltalk", "faq_silent")
# How many of each in a day of 200 (returning customers come on top).
DAY_MIX = {"faq_helped": 40, "faq_not_helped": 16, "track": 30, "unanswered": 14,
           "human_fast": 20, "human_late": 6, "human_cancel": 8, "leave_mid_job": 20,
           "smalltalk": 16, "faq_silent": 30}


def plan(total: int = 200, seed: int = 7) -> list[tuple[str, str, int | None, int | None]]:
    """(scenario, language, csat, nps) for ``total`` conversations, deterministic."""
    rng = random.Random(seed)  # noqa: S311 - a repeatable plan, not a secret
    day = [name for name, count in DAY_MIX.items() for _ in range(count)]
    mix: list[str] = []
    while len(mix) < total:
        rng.shuffle(day)
        mix += day
    mix = mix[:total]
    out: list[tuple[str, str, int | None, int | None]] = []
    for index, scenario in enumerate(mix):
        language = LANGUAGES[index % len(LANGUAGES)]
        csat = rng.choice((5, 5, 4, 4, 3, 2, 1)) if scenario != "faq_not_helped" else \
            rng.choice((1, 2, 3))
        out.append((scenario, language, csat, rng.randint(0, 10)))
    return out


class Day:
    """Runs the plan against a running assistant and console."""

    def __init__(self, rasa_url: str, consoles: list[Console], target_seconds: float,
                 concurrency: int = 8, late_margin: float = 2.5) -> None:
        self.rasa_url = rasa_url
        self.consoles = consoles
        self.target = target_seconds
        self.late_margin = late_margin
        self.limit = asyncio.Semaphore(concurrency)
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        self.records: list[Record] = []
        self._turn = 0

    async def close(self) -> None:
        await self.http.close()

    # The customer's side ----------------------------------------------------------------

    async def say(self, record: Record, text: str) -> list[dict[str, Any]]:
        sent = time.time()
        async with self.http.post(f"{self.rasa_url}/webhooks/rest/webhook",
                                  json={"sender": record.sender, "message": text,
                                        # as a shop's app would: the language of its UI
                                        "metadata": {"language": record.language}}
                                  ) as response:
            replies = await response.json()
            if response.status != 200:
                raise RuntimeError(f"{record.sender}: HTTP {response.status} {replies}")
        if record.first_reply_seconds is None:
            record.started = sent
            record.first_reply_seconds = time.time() - sent
        return list(replies)

    async def pushed(self, record: Record, after: float, wait: float = 5.0
                     ) -> tuple[list[dict[str, Any]], float]:
        async with self.http.get(f"{self.rasa_url}/webhooks/rest/messages",
                                 params={"sender": record.sender, "after": str(after),
                                         "wait": str(wait)}) as response:
            body = await response.json()
        return list(body["messages"]), float(body["cursor"])

    async def wait_pushed(self, record: Record, match: Any, timeout: float = 30.0,
                          after: float = 0.0) -> list[dict[str, Any]]:
        """Pushed messages (after a moment) up to and including the first that matches."""
        deadline = time.monotonic() + timeout
        seen: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            messages, after = await self.pushed(record, after, wait=2.0)
            for message in messages:
                seen.append(message)
                if match(message):
                    return seen
        record.problems.append(f"no pushed message matched within {timeout} s")
        return seen

    async def answer_survey(self, record: Record, replies: list[dict[str, Any]],
                            csat: int | None, nps: int | None) -> None:
        """Answer the satisfaction question found in ``replies`` (and what follows)."""
        if not _buttons(replies, SURVEY_ANSWER):
            return
        record.survey_seen = True
        if csat is None:
            return
        replies = await self.say(record, _score_payload(replies, csat))
        record.csat = csat
        if len(_buttons(replies, SURVEY_ANSWER)) == 11:
            record.nps_asked = True
            if nps is not None:
                replies = await self.say(record, _score_payload(replies, nps))
                record.nps = nps
        if _buttons(replies, SKIP):
            if csat >= 4:
                await self.say(record, COMMENT[record.language])
                record.comment = COMMENT[record.language]
            else:
                await self.say(record, SKIP)

    # The agent's side ------------------------------------------------------------------

    def console(self) -> Console:
        self._turn += 1
        return self.consoles[self._turn % len(self.consoles)]

    async def ticket_of(self, record: Record, timeout: float = 30.0) -> dict[str, Any] | None:
        console = self.consoles[0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, body = await console.call("GET", "/api/queue")
            if status == 200:
                for ticket in body["tickets"]:
                    if ticket["conversation_id"] == record.sender:
                        return dict(ticket)
            await asyncio.sleep(0.2)
        record.problems.append("no ticket appeared")
        return None

    async def handle(self, record: Record, late: bool) -> None:
        ticket = await self.ticket_of(record)
        if ticket is None:
            return
        record.ticket_id = int(ticket["id"])
        created = datetime.fromisoformat(ticket["created_at"]).timestamp()
        record.ticket_created = created
        if late:
            await asyncio.sleep(max(0.0, created + self.target + self.late_margin - time.time()))
        console = self.console()
        record.claim_sent = time.time()
        status, body = await console.call("POST", f"/api/tickets/{record.ticket_id}/claim", {})
        if status != 200:
            record.problems.append(f"claim: {status} {body}")
            return
        record.claimed = time.time()
        status, body = await console.call("POST", f"/api/tickets/{record.ticket_id}/messages",
                                          {"text": "Hi, I'm on it: one moment please."})
        if status != 201:
            record.problems.append(f"reply: {status} {body}")
            return
        record.agent_replied = time.time()
        await self.wait_pushed(record, lambda m: m.get("from") == "agent")
        status, body = await console.call("POST", f"/api/tickets/{record.ticket_id}/resolve", {})
        if status != 200:
            record.problems.append(f"resolve: {status} {body}")
            return
        record.resolved = True

    # Scenarios ---------------------------------------------------------------------------

    async def run_one(self, scenario: str, language: str, csat: int | None,
                      nps: int | None, index: int) -> Record:
        record = Record(sender=f"sim-{index:03d}-{uuid.uuid4().hex[:8]}", scenario=scenario,
                        language=language)
        async with self.limit:
            try:
                await getattr(self, f"_{scenario}")(record, csat, nps, index)
            except Exception as exc:  # recorded; the day goes on
                record.problems.append(f"{type(exc).__name__}: {exc}")
        self.records.append(record)
        return record

    async def _faq(self, record: Record, index: int) -> list[dict[str, Any]]:
        question, article = FAQ[record.language][index % len(FAQ[record.language])]
        replies = await self.say(record, question)
        if not _buttons(replies, "/faq_helped"):
            record.problems.append(f"no confident answer to {question!r}")
        record.article = article
        return replies

    async def _faq_helped(self, record: Record, csat: int | None, nps: int | None,
                          index: int) -> None:
        await self._faq(record, index)
        await self.say(record, "/faq_helped")
        record.feedback = "helped"
        await self.answer_survey(record, await self.say(record, GOODBYE[record.language]),
                                 csat, nps)

    async def _faq_not_helped(self, record: Record, csat: int | None, nps: int | None,
                              index: int) -> None:
        await self._faq(record, index)
        await self.say(record, "/faq_not_helped")
        record.feedback = "not_helped"
        await self.answer_survey(record, await self.say(record, GOODBYE[record.language]),
                                 csat, nps)

    async def _faq_silent(self, record: Record, csat: int | None, nps: int | None,
                          index: int) -> None:
        """Reads the answer and leaves without a word: the quiet-time survey's customers."""
        await self._faq(record, index)

    async def _track(self, record: Record, csat: int | None, nps: int | None,
                     index: int) -> None:
        record.intent = "track_order"
        await self.say(record, TRACK[record.language])
        await self.say(record, "ORB-104217")
        await self.say(record, EMAIL_OF["ORB-104217"])
        await self.answer_survey(record, await self.say(record, THANKS[record.language]),
                                 csat, nps)

    async def _unanswered(self, record: Record, csat: int | None, nps: int | None,
                          index: int) -> None:
        for group, by_language in UNANSWERED.items():
            texts = by_language[record.language]
            text = texts[index % len(texts)]
            replies = await self.say(record, text)
            if _buttons(replies, "/faq_helped"):
                record.problems.append(f"{text!r} was answered with confidence")
            record.unanswered.append((group, text))
        record.escalation = "unresolved"
        await self._with_agent(record, csat, nps, late=False)

    async def _with_agent(self, record: Record, csat: int | None, nps: int | None,
                          late: bool) -> None:
        await self.handle(record, late)
        if record.resolved:
            seen = await self.wait_pushed(record, lambda m: bool(
                [b for b in m.get("buttons") or [] if str(b.get("payload", "")).startswith(
                    SURVEY_ANSWER)]))
            await self.answer_survey(record, seen[-1:] if seen else [], csat, nps)

    async def _human_fast(self, record: Record, csat: int | None, nps: int | None,
                          index: int) -> None:
        record.intent = "request_human"
        record.escalation = "customer_request"
        await self.say(record, "/request_human")
        await self._with_agent(record, csat, nps, late=False)

    async def _human_late(self, record: Record, csat: int | None, nps: int | None,
                          index: int) -> None:
        record.intent = "request_human"
        record.escalation = "customer_request"
        await self.say(record, "/request_human")
        await self._with_agent(record, csat, nps, late=True)

    async def _human_cancel(self, record: Record, csat: int | None, nps: int | None,
                            index: int) -> None:
        record.intent = "request_human"
        record.escalation = "customer_request"
        await self.say(record, "/request_human")
        ticket = await self.ticket_of(record)
        if ticket is not None:
            record.ticket_id = int(ticket["id"])
            # "Where does my request stand?" while queued: the handoff service answers.
            asked = time.time()
            await self.say(record, STATUS[record.language])
            seen = await self.wait_pushed(record, lambda m: m.get("from") == "system",
                                          timeout=15, after=asked)
            record.status_told = bool(seen) and not record.problems
            record.leaving = time.time()
            await self.say(record, CANCEL[record.language])
            record.left_at = time.time()
            record.abandoned = True

    async def _leave_mid_job(self, record: Record, csat: int | None, nps: int | None,
                             index: int) -> None:
        record.intent = "return_item"
        await self.say(record, RETURN[record.language])

    async def _smalltalk(self, record: Record, csat: int | None, nps: int | None,
                         index: int) -> None:
        await self.say(record, GREETING[record.language])
        replies = await self.say(record, GOODBYE[record.language])
        if _buttons(replies, SURVEY_ANSWER):
            record.problems.append("survey after smalltalk only")

    async def come_back(self, first: Record, index: int) -> Record:
        """The same customer, later the same day, with a new conversation: the first one
        was not resolved for good (re-opened)."""
        record = Record(sender=first.sender, scenario="returning", language=first.language,
                        session=1, intent="track_order")
        async with self.limit:
            try:
                await self.say(record, "/session_start")
                record.first_reply_seconds = None
                await self.say(record, TRACK[record.language])
                await self.say(record, "ORB-104217")
                await self.say(record, EMAIL_OF["ORB-104217"])
            except Exception as exc:
                record.problems.append(f"{type(exc).__name__}: {exc}")
        first.reopened = True
        self.records.append(record)
        return record

    async def run(self, total: int = 200, returning: int = 10, seed: int = 7) -> list[Record]:
        steps = plan(total, seed)
        firsts = await asyncio.gather(*(self.run_one(s, lang, c, n, i)
                                        for i, (s, lang, c, n) in enumerate(steps)))
        # Some contained conversations come back: they were not really resolved.
        again = [r for r in firsts if r.scenario in ("track", "faq_helped")][:returning]
        await asyncio.gather(*(self.come_back(r, total + i) for i, r in enumerate(again)))
        return self.records


def _buttons(replies: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [b for r in replies for b in r.get("buttons") or []
            if str(b.get("payload", "")).startswith(prefix)]


def _score_payload(replies: list[dict[str, Any]], score: int) -> str:
    for button in _buttons(replies, SURVEY_ANSWER):
        payload = str(button["payload"])
        if f'"{score}"' in payload or f":{score}}}" in payload:
            return payload
    raise RuntimeError(f"no survey button for {score}")

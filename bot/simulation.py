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
import json
import random
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

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


@dataclass
class Record:
    """One conversation, as the simulated customer and agent lived it."""

    sender: str
    scenario: str
    language: str
    session: int = 0                  # 1 = the same customer coming back
    intent: str | None = None         # the topic, where the script fixes it (a payload)
    started: float = 0.0              # wall clock of the first message
    first_reply_seconds: float | None = None
    article: str | None = None
    feedback: str | None = None       # helped | not_helped
    unanswered: list[tuple[str, str]] = field(default_factory=list)  # (group, text)
    escalation: str | None = None     # reason
    ticket_id: int | None = None
    ticket_created: float | None = None
    claim_sent: float | None = None   # the claim request went out ...
    claimed: float | None = None      # ... and its answer came back
    agent_replied: float | None = None
    resolved: bool = False
    abandoned: bool = False
    leaving: float | None = None      # the customer's "never mind" went out ...
    left_at: float | None = None      # ... and its answer came back
    csat: int | None = None
    nps: int | None = None
    nps_asked: bool = False
    comment: str | None = None
    survey_seen: bool = False
    status_told: bool = False         # asked where the request stands, and was told
    reopened: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def human_involved(self) -> bool:
        return self.claimed is not None


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


class Console:
    """The agent console's HTTP API as one agent uses it."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self.username = username
        self.password = password
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, self.base_url + path, json=body,
                                     headers={"X-CSRF-Token": self.csrf}) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text

    async def login(self) -> None:
        async with self.http.get(self.base_url + "/console/login") as response:
            await response.read()
        self.csrf = next(c.value for c in self.http.cookie_jar if c.key == "handoff_csrf")
        status, body = await self.call("POST", "/api/login", {"username": self.username,
                                                              "password": self.password})
        if status != 200:
            raise RuntimeError(f"login of {self.username} failed: {status} {body}")
        status, me = await self.call("GET", "/api/me")
        self.csrf = me["csrf_token"]

    async def close(self) -> None:
        await self.http.close()


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


# What the metrics must say, from the records alone ------------------------------------------

# The console API gives a ticket's creation to the second (truncated).
CREATED_PRECISION = 1.0


def _span(record: Record, start: float | None, end: float | None) -> tuple[float, float] | None:
    """Seconds from the ticket's creation to a request that went out at ``start`` and
    came back at ``end``, as (earliest, latest): the service did it somewhere in between,
    and the ticket was created within a second after the time the API shows."""
    if start is None or end is None or record.ticket_created is None:
        return None
    return start - record.ticket_created - CREATED_PRECISION, end - record.ticket_created


def waited(record: Record) -> tuple[float, float] | None:
    """How long the chat waited for a person, as the (earliest, latest) the script can
    tell: until it was claimed, or until the customer left."""
    if record.claimed is not None:
        return _span(record, record.claim_sent, record.claimed)
    return _span(record, record.leaving, record.left_at)


def too_close(records: list[Record], target: float, margin: float = 1.0) -> list[str]:
    """Chats whose wait, or the agent's first reply, is too near the target for the script
    to know on which side the service saw it."""
    near = []
    for r in records:
        for span in (waited(r), _span(r, r.claimed, r.agent_replied)):
            if span is not None and span[0] - margin < target < span[1] + margin:
                near.append(r.sender)
                break
    return near


def expected(records: list[Record], target: float) -> dict[str, Any]:
    """The metrics from the records alone; waits are measured on the script's clock."""
    convs = list(records)
    escalated = [r for r in convs if r.escalation]
    claimed = [r for r in convs if r.claimed is not None]
    over = [r for r in escalated if (w := waited(r)) is not None and w[0] > target]
    csat = [r for r in convs if r.csat is not None]
    nps = [r for r in convs if r.nps is not None]

    def mean(values: list[int]) -> float | None:
        return round(statistics.mean(values), 2) if values else None

    promoters = sum(1 for r in nps if r.nps is not None and r.nps >= 9)
    detractors = sum(1 for r in nps if r.nps is not None and r.nps <= 6)
    articles: dict[str, Counter[str]] = {}
    for r in convs:
        if r.article:
            articles.setdefault(r.article, Counter())["shown"] += 1
            if r.feedback:
                articles[r.article][r.feedback] += 1
    groups: Counter[str] = Counter(g for r in convs for g, _ in r.unanswered)
    return {
        "conversations": len(convs),
        "escalated": len(escalated),
        "escalations_by_reason": dict(Counter(r.escalation for r in escalated
                                              if r.escalation)),
        "abandoned": sum(1 for r in convs if r.abandoned),
        "human_involved": len(claimed),
        "reopened": sum(1 for r in convs if r.reopened),
        "contained": sum(1 for r in convs if not r.escalation and not r.reopened),
        "fcr": sum(1 for r in convs if not r.reopened and (not r.escalation or r.resolved)),
        "pickups": len(claimed),
        # Every escalation is in agent hours; customers who gave up before the target
        # are left out, those who waited longer count as misses.
        "pickup_in_hours": len(claimed) + sum(1 for r in over if r.claimed is None),
        "pickup_within_target": len(claimed) - sum(1 for r in over if r.claimed is not None),
        "late": sorted(r.ticket_id for r in over if r.ticket_id is not None),
        "human_frt_within_target": sum(
            1 for r in convs if r.agent_replied is not None and r.ticket_created is not None
            and r.agent_replied - r.ticket_created <= target),
        # Each pickup lies between its claim going out and its answer coming back.
        "pickup_earliest": sorted(w[0] for r in claimed if (w := waited(r)) is not None),
        "pickup_latest": sorted(w[1] for r in claimed if (w := waited(r)) is not None),
        "human_frt_count": sum(1 for r in convs if r.agent_replied is not None),
        "handle_count": sum(1 for r in convs if r.resolved),
        "csat_responses": len(csat),
        "csat_mean": mean([r.csat for r in csat if r.csat is not None]),
        "csat_assistant_responses": sum(1 for r in csat if not r.human_involved),
        "csat_human_responses": sum(1 for r in csat if r.human_involved),
        "csat_human_mean": mean([r.csat for r in csat if r.human_involved and r.csat]),
        "csat_assistant_mean": mean([r.csat for r in csat if not r.human_involved and r.csat]),
        "csat_satisfied": sum(1 for r in csat if r.csat is not None and r.csat >= 4),
        "nps_responses": len(nps),
        "nps": round(100 * (promoters - detractors) / len(nps), 1) if nps else None,
        "articles": {a: dict(c) for a, c in articles.items()},
        "unanswered_groups": dict(groups),
        "by_language": dict(Counter(r.language for r in convs)),
        "by_intent": dict(Counter(r.intent for r in convs if r.intent)),
        "surveys_answered_human": sum(1 for r in csat if r.human_involved),
        "today": datetime.now(UTC).date().isoformat(),
    }

"""The jobs a customer brings about an order, run by one form (``order_form``).

Every job starts the same way: the order number, then the e-mail or phone of that order,
verified before anything is disclosed. Then each job asks what it needs (an item, a
reason, a serial number, a confirmation) and finishes in ``complete``. A job that the
order's state does not allow is "blocked" right after verification: the form ends and
``complete`` explains why and what the customer can do instead.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import (
    breaks_out,
    is_button_payload,
    language,
    latest_intent,
    latest_text,
    say,
)
from actions.item_choice import choose_item, item_buttons, item_candidates
from actions.runtime import Runtime
from actions.shop.base import Order, OrderHistory, OrderItem

YES_WORDS = frozenset(
    "yes y yeah yep sure ok okay correct right confirm please да ага конечно верно "
    "подтверждаю давай так авжеж звісно підтверджую".split()
)
NO_WORDS = frozenset("no n nope nah not нет не неа ні".split())

# Slots answered with yes or no, and slots that take the customer's own words.
YES_NO_SLOTS = frozenset({"cancel_confirm", "address_confirm", "seal_intact", "return_confirm",
                          "warranty_confirm"})
FREE_TEXT_SLOTS = frozenset({"new_address", "fault_description"})

# Slots shared by every job.
JOB_SLOT = "job"
BLOCKED_SLOT = "job_blocked"
FAILURES_SLOT = "form_failures"
VERIFIED_SLOT = "verified_order_id"
LOCKED_SLOT = "lookup_locked"
# The message that asked for the job: its facts (item, reason, serial, fault) are used
# once the order is verified, so nothing the customer said is asked again.
REQUEST_SLOT = "job_request"
# A request phrased as a question ("is my TV still under warranty?", "can I still return
# the case?"): the job's check answers it as soon as the item is known.
_QUESTION_RE = re.compile(
    r"\?|^\W*(?:is|are|can|could|do|does|will|would|am)\b|\bstill\b|"
    r"^\W*(?:можно|могу|есть|действует|ли)\b|\bли\b|\bещё\b|\bеще\b|"
    r"^\W*(?:чи|можна|можу|діє)\b|\bдосі\b",
    re.IGNORECASE | re.UNICODE)


def is_question(text: str) -> bool:
    return bool(_QUESTION_RE.search(text))


# Items that fit the customer's words equally well ("the camera" in an order with two).
CANDIDATES_SLOT = "item_candidates"
MAX_FORM_FAILURES = 3


@dataclass
class JobContext:
    """One turn of the order form: the runtime, the tracker, and the slots set so far."""

    rt: Runtime
    dispatcher: CollectingDispatcher
    tracker: Tracker
    updates: dict[str, Any] = field(default_factory=dict)
    # Set by a job whose outcome needs a person (a lost parcel): the form's end escalates.
    escalation: str | None = None
    _order: Order | None = None
    _history: OrderHistory | None = None

    @property
    def lang(self) -> str:
        return language(self.tracker)

    def get(self, slot: str) -> Any:
        return self.tracker.get_slot(slot)

    def set(self, slot: str, value: Any) -> None:
        self.updates[slot] = value
        self.tracker.slots[slot] = value

    def say(self, response: str, **kwargs: Any) -> None:
        say(self.dispatcher, response, **kwargs)

    async def order(self) -> Order:
        """The verified order of this conversation (verification has happened)."""
        if self._order is None:
            order = await self.rt.shop.find_order(self.get(VERIFIED_SLOT))
            if order is None:
                raise LookupError(f"verified order {self.get(VERIFIED_SLOT)} vanished")
            self._order = order
        return self._order

    async def history(self) -> OrderHistory:
        if self._history is None:
            self._history = await self.rt.shop.history(self.get(VERIFIED_SLOT))
        return self._history

    def reject(self, slot: str, response: str, **kwargs: Any) -> None:
        """The answer did not fit: say why, count it, and ask again."""
        self.say(response, **kwargs)
        self.set(slot, None)
        self.set(FAILURES_SLOT, float(self.get(FAILURES_SLOT) or 0) + 1)

    def yes_no(self, slot: str) -> None:
        """Fill a confirmation slot from yes/no buttons, intents or words."""
        intent, _ = latest_intent(self.tracker)
        words = set(self.tracker.latest_message.get("text", "").lower().replace("!", " ")
                    .replace(".", " ").replace(",", " ").split())
        if intent == "affirm" or (words & YES_WORDS and not words & NO_WORDS):
            self.set(slot, True)
        elif intent == "deny" or words & NO_WORDS:
            self.set(slot, False)
        else:
            self.reject(slot, "utter_please_yes_no")


class Job(abc.ABC):
    name: str
    slots: tuple[str, ...] = ()

    def required(self, tracker: Tracker) -> list[str]:
        """Job slots still to ask, in order, given what is known (no I/O here)."""
        return []

    async def gate(self, ctx: JobContext) -> None:
        """Right after verification: block the job if the order does not allow it."""

    async def collect(self, ctx: JobContext, slot: str) -> None:
        """Read the customer's answer for ``slot``; leave it unset to let Rasa reject."""

    @abc.abstractmethod
    async def complete(self, ctx: JobContext) -> None:
        """Do the job (or explain why not) once every slot is known."""


def free_text_answer(ctx: JobContext) -> str | None:
    """The latest message as an answer to an open question, unless the customer bails."""
    if breaks_out(ctx.tracker):
        return None
    if is_button_payload(ctx.tracker):
        return None
    return latest_text(ctx.tracker)


class ItemJob(Job):
    """A job about one item of the order: only items the policy allows are offered.

    Subclasses say which slot holds the item, judge each item (``verdicts``), and explain
    a refusal; choosing, offering and refusing items works the same for every such job.
    """

    item_slot: str
    ask_item_response: str

    @abc.abstractmethod
    async def verdicts(self, ctx: JobContext, order: Order) -> dict[str, Any]:
        """The policy's verdict per SKU."""

    @abc.abstractmethod
    def allowed(self, verdict: Any) -> bool:
        """Whether the verdict lets the job go on with this item."""

    @abc.abstractmethod
    def explain(self, ctx: JobContext, item: OrderItem, verdict: Any) -> None:
        """Tell the customer why this item cannot go on."""

    def select(self, ctx: JobContext, item: OrderItem) -> None:
        ctx.set(self.item_slot, item.sku)
        ctx.set(CANDIDATES_SLOT, None)

    async def offered(self, ctx: JobContext) -> tuple[Order, dict[str, Any], list[OrderItem]]:
        order = await ctx.order()
        verdicts = await self.verdicts(ctx, order)
        return order, verdicts, [i for i in order.items if self.allowed(verdicts[i.sku])]

    async def gate(self, ctx: JobContext) -> None:
        """Block when no item qualifies; pick the item when the order has only that one."""
        order, _, offered = await self.offered(ctx)
        if not offered:
            ctx.set(BLOCKED_SLOT, True)
        elif len(offered) == 1 and len(order.items) == 1:
            self.select(ctx, offered[0])

    async def ask_item(self, ctx: JobContext) -> None:
        order, verdicts, offered = await self.offered(ctx)
        candidates = [i for i in offered if i.sku in (ctx.get(CANDIDATES_SLOT) or [])]
        if len(candidates) > 1:
            # The customer's words fit several items: name just those.
            ctx.say(self.ask_item_response, buttons=item_buttons(candidates))
            return
        for item in order.items:
            if not self.allowed(verdicts[item.sku]):
                self.explain(ctx, item, verdicts[item.sku])
        ctx.say(self.ask_item_response, buttons=item_buttons(offered))

    async def preselect(self, ctx: JobContext, text: str | None = None) -> None:
        """Take the item the customer named when asking for the job ("return the case");
        when their words fit several items, remember those to offer them by name."""
        *_, offered = await self.offered(ctx)
        if text is None:
            item = choose_item(ctx.tracker, offered, offered, by_number=False)
            candidates = [item] if item else []
        else:
            candidates = item_candidates(text, offered)
        if len(candidates) == 1:
            self.select(ctx, candidates[0])
        elif len(candidates) > 1:
            ctx.set(CANDIDATES_SLOT, [i.sku for i in candidates])

    async def prefill(self, ctx: JobContext, text: str) -> None:
        """Other facts of the request (a reason, a serial, the fault), once the item is known."""

    async def confirm_item(self, ctx: JobContext) -> None:
        """The item named in the request is known: tell the customer what the check found
        ("still under warranty until ...") before the job asks anything else."""

    async def collect_item(self, ctx: JobContext) -> None:
        order, verdicts, offered = await self.offered(ctx)
        item = choose_item(ctx.tracker, order.items, offered)
        if item is None:
            candidates = item_candidates(latest_text(ctx.tracker), offered)
            if len(candidates) > 1 and not is_button_payload(ctx.tracker):
                ctx.set(CANDIDATES_SLOT, [i.sku for i in candidates])
                ctx.set(self.item_slot, None)
                return
            ctx.reject(self.item_slot, "utter_item_not_understood")
        elif not self.allowed(verdicts[item.sku]):
            self.explain(ctx, item, verdicts[item.sku])
            ctx.reject(self.item_slot, "utter_choose_another_item")
        else:
            self.select(ctx, item)

"""The order form's actions: start a job, validate each answer, ask, and complete.

Slot filling is done here rather than by NLU entities: order numbers, e-mails, phones,
serials and item choices are read from the text with the rules in ``verification`` and
the job modules, which is more reliable than a statistical extractor for such strings.
A turn that fills nothing (the customer changed the subject) returns no slot, so Rasa
rejects the form for that turn and the rules handle the interruption.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import formatting as fmt
from actions.conversation import (
    HARD_INTERRUPTS,
    INTERRUPT_CONFIDENCE,
    RULED_INTERRUPTS,
    is_button_payload,
    latest_intent,
    latest_text,
)
from actions.escalation import escalate
from actions.jobs import (
    BLOCKED_SLOT,
    CANDIDATES_SLOT,
    FAILURES_SLOT,
    FREE_TEXT_SLOTS,
    JOB_SLOT,
    LOCKED_SLOT,
    MAX_FORM_FAILURES,
    REQUEST_SLOT,
    VERIFIED_SLOT,
    YES_NO_SLOTS,
    ItemJob,
    Job,
    JobContext,
    is_question,
)
from actions.lookup_locks import THROTTLE_SLOT, client_of, lock_slot, security_event
from actions.orders import AddressJob, CancelJob, LostParcelJob, TrackJob
from actions.returns import ReturnJob
from actions.runtime import get_runtime
from actions.status import StatusJob
from actions.verification import parse_contact, parse_order_id
from actions.verification_throttle import Lock
from actions.warranty import WarrantyJob

RETURN_JOB = ReturnJob()
WARRANTY_JOB = WarrantyJob()
JOBS: dict[str, Job] = {
    job.name: job
    for job in (TrackJob(), LostParcelJob(), CancelJob(), AddressJob(), RETURN_JOB, WARRANTY_JOB,
                StatusJob())
}
JOB_BY_INTENT = {
    "track_order": "track",
    "report_lost_parcel": "lost_parcel",
    "cancel_order": "cancel",
    "change_address": "change_address",
    "return_item": "return",
    "warranty_claim": "warranty",
    "case_status": "status",
}
DEFAULT_JOB = "track"
JOB_SLOTS = sorted({slot for job in JOBS.values() for slot in job.slots})
VERIFICATION_SLOTS = ["order_id", "order_contact"]


def current_job(tracker: Tracker) -> Job:
    return JOBS.get(tracker.get_slot(JOB_SLOT) or DEFAULT_JOB, JOBS[DEFAULT_JOB])


def clear_job(ctx: JobContext, job: str | None) -> None:
    """Forget every answer of the job in hand and start ``job`` (None: no job)."""
    for slot in JOB_SLOTS:
        ctx.set(slot, None)
    ctx.set(JOB_SLOT, job)
    ctx.set(BLOCKED_SLOT, None)
    ctx.set(FAILURES_SLOT, 0.0)
    ctx.set(CANDIDATES_SLOT, None)
    ctx.set(REQUEST_SLOT, None)


def remember_request(ctx: JobContext) -> None:
    """Keep the words that asked for the job, to take its facts from once verified."""
    if not is_button_payload(ctx.tracker):
        ctx.set(REQUEST_SLOT, latest_text(ctx.tracker)[:2000] or None)


def slot_events(ctx: JobContext) -> list[EventType]:
    return [SlotSet(slot, value) for slot, value in ctx.updates.items()]


def required_slots(tracker: Tracker) -> list[str]:
    """What the form still needs, from slots alone (called several times a turn)."""
    if tracker.get_slot(LOCKED_SLOT) or (tracker.get_slot(FAILURES_SLOT) or 0) >= MAX_FORM_FAILURES:
        return []
    if tracker.get_slot(THROTTLE_SLOT) and not tracker.get_slot(VERIFIED_SLOT):
        return []  # an order or client lock refused the look-up: the form ends
    if not tracker.get_slot(VERIFIED_SLOT):
        return list(VERIFICATION_SLOTS)
    if tracker.get_slot(BLOCKED_SLOT):
        return []
    return current_job(tracker).required(tracker)


class ActionStartJob(Action):
    """Remember what the customer came for; keep a verified order, forget old answers."""

    def name(self) -> str:
        return "action_start_job"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        intent, _ = latest_intent(tracker)
        job = JOB_BY_INTENT.get(intent or "") or tracker.get_slot(JOB_SLOT) or DEFAULT_JOB
        ctx = JobContext(await get_runtime(), dispatcher, tracker)
        clear_job(ctx, job)
        ctx.set(THROTTLE_SLOT, None)  # a new job checks the locks again
        remember_request(ctx)
        return slot_events(ctx)


class ValidateOrderForm(FormValidationAction):
    def name(self) -> str:
        return "validate_order_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        return required_slots(tracker)

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        ctx = JobContext(await get_runtime(), dispatcher, tracker)
        requested = tracker.get_slot("requested_slot")
        if self._leaves_form(ctx, requested):
            # Nothing filled: Rasa rejects the form for this turn and the rules answer.
            return [SlotSet("requested_slot", requested)]
        if await ctx.rt.guard.is_locked(tracker.sender_id):
            if not ctx.get(LOCKED_SLOT):
                ctx.set(LOCKED_SLOT, True)
        elif await self._switch_job(ctx, requested):
            pass
        elif not ctx.get(VERIFIED_SLOT) or self._names_other_order(ctx):
            self._collect_verification(ctx, requested)
            await self._verify(ctx)
        elif requested is None:
            # A new job on an order verified earlier in the conversation.
            await self._start_on_verified_order(ctx)
        elif requested in current_job(tracker).required(tracker):
            await current_job(tracker).collect(ctx, requested)
        if not ctx.updates:
            # Keep the form for this turn (a repeated request, a button of another job):
            # setting the job again tells Rasa the message was handled here.
            ctx.set(JOB_SLOT, ctx.get(JOB_SLOT) or DEFAULT_JOB)
        events = slot_events(ctx)
        missing = [slot for slot in required_slots(tracker) if tracker.get_slot(slot) is None]
        events.append(SlotSet("requested_slot", missing[0] if missing else None))
        return events

    @staticmethod
    def _leaves_form(ctx: JobContext, requested: str | None) -> bool:
        """True for the intents the rules handle mid-form (asking for a person, stop...).

        An open question (an address, a fault) takes the customer's words unless they
        clearly want out; a message that carries an order number or contact is data.
        """
        if requested is None:
            return False
        intent, confidence = latest_intent(ctx.tracker)
        if confidence < INTERRUPT_CONFIDENCE:
            return False
        if requested in FREE_TEXT_SLOTS:
            return intent in HARD_INTERRUPTS
        text = latest_text(ctx.tracker)
        if parse_order_id(text, ctx.rt.policy) or parse_contact(text):
            return False
        return intent in RULED_INTERRUPTS or (intent == "deny" and requested not in YES_NO_SLOTS)

    @staticmethod
    async def _start_on_verified_order(ctx: JobContext) -> None:
        await current_job(ctx.tracker).gate(ctx)
        await ValidateOrderForm._use_request(ctx)

    @staticmethod
    async def _use_request(ctx: JobContext) -> None:
        """Right after the gate: what the request said (the item, a reason, a serial, the
        fault) fills the job's slots, and a question about the item is answered."""
        job = current_job(ctx.tracker)
        if not isinstance(job, ItemJob) or ctx.get(BLOCKED_SLOT):
            return
        # The request and the message that verified the order; once when they are the
        # same message (a request on an order verified earlier, or one that says it all).
        said = dict.fromkeys((ctx.get(REQUEST_SLOT), latest_text(ctx.tracker)))
        text = " ".join(t for t in said if t and not t.startswith("/"))
        if not text:
            return
        if not ctx.get(job.item_slot):
            await job.preselect(ctx, text)
        if ctx.get(job.item_slot):
            if is_question(text):
                await job.confirm_item(ctx)
            await job.prefill(ctx, text)

    @staticmethod
    async def _switch_job(ctx: JobContext, requested: str | None) -> bool:
        """A customer who asks for another job mid-form gets it, keeping the verified order."""
        intent, confidence = latest_intent(ctx.tracker)
        job = JOB_BY_INTENT.get(intent or "")
        # Order data that the router gave a job for its words ("my e-mail is ..., it broke")
        # answers the form's question; it does not switch the job in hand.
        from_data = ((ctx.tracker.latest_message or {}).get("intent") or {}).get(
            "routed_from") == "inform"
        if (job is None or confidence < INTERRUPT_CONFIDENCE or requested in FREE_TEXT_SLOTS
                or from_data or job == (ctx.get(JOB_SLOT) or DEFAULT_JOB)):
            return False
        clear_job(ctx, job)
        remember_request(ctx)
        if ctx.get(VERIFIED_SLOT):
            await ValidateOrderForm._start_on_verified_order(ctx)
        else:
            ValidateOrderForm._collect_verification(ctx, None)
            await ValidateOrderForm._verify(ctx)
        return True

    @staticmethod
    def _names_other_order(ctx: JobContext) -> bool:
        """A verified customer who now names another order number starts over with it."""
        named = parse_order_id(latest_text(ctx.tracker), ctx.rt.policy)
        if named is None or named == ctx.get(VERIFIED_SLOT):
            return False
        ctx.set(VERIFIED_SLOT, None)
        ctx.set("order_contact", None)
        clear_job(ctx, ctx.get(JOB_SLOT))
        return True

    @staticmethod
    def _collect_verification(ctx: JobContext, requested: str | None) -> None:
        if is_button_payload(ctx.tracker):
            return
        text = latest_text(ctx.tracker)
        order_id = parse_order_id(text, ctx.rt.policy)
        contact = parse_contact(text)
        if order_id:
            ctx.set("order_id", order_id)
        if contact:
            ctx.set("order_contact", contact)
        if order_id or contact or latest_intent(ctx.tracker)[0] in JOB_BY_INTENT:
            return  # a repeated request for the job is not a wrong answer: ask again
        if requested == "order_id":
            ctx.reject("order_id", "utter_order_id_invalid")
        elif requested == "order_contact":
            ctx.reject("order_contact", "utter_contact_invalid")

    @staticmethod
    async def _verify(ctx: JobContext) -> None:
        order_id, contact = ctx.get("order_id"), ctx.get("order_contact")
        if not (order_id and contact) or ctx.get(VERIFIED_SLOT):
            return
        rt = ctx.rt
        throttle = rt.require_throttle()
        # The same statements and the same answer whether or not the order exists.
        attempt = await throttle.begin(order_id, client_of(ctx.tracker), rt.now())
        if attempt.refused is not None:
            await ValidateOrderForm._refuse(ctx, attempt.refused, "lookup_refused")
            return
        order = await rt.shop.verify_order(order_id, contact)
        if order is not None:
            await throttle.succeeded(attempt)
            ctx.set(VERIFIED_SLOT, order.order_id)
            ctx.set(FAILURES_SLOT, 0.0)
            ctx.say("utter_verified", order_id=order.order_id)
            await ValidateOrderForm._start_on_verified_order(ctx)
            return
        locks = await throttle.failed(attempt, rt.now())
        failures = await rt.guard.record_failure(ctx.tracker.sender_id, rt.now())
        ctx.set("order_id", None)
        ctx.set("order_contact", None)
        for lock in locks:
            await rt.require_outbox().enqueue(security_event(
                "order_locked" if lock.scope == "order" else "client_locked", lock,
                ctx.tracker, throttle.limits))
        if failures >= rt.policy.lookup_max_failures:
            ctx.set(LOCKED_SLOT, True)  # escalates (lookup_locked), with the lock's note
            if locks:
                ctx.set(THROTTLE_SLOT, lock_slot(locks[0]))
        elif locks:
            await ValidateOrderForm._refuse(ctx, locks[0], None)
        else:
            remaining = min(rt.policy.lookup_max_failures - failures, attempt.remaining)
            ctx.say(f"utter_verification_failed_{fmt.plural(remaining, ctx.lang)}",
                    remaining=remaining)

    @staticmethod
    async def _refuse(ctx: JobContext, lock: Lock, event: str | None) -> None:
        """An order or client lock stands: no look-up; the form ends with the lock's answer
        and a button to a person (action_complete_order_job)."""
        ctx.set("order_id", None)
        ctx.set("order_contact", None)
        ctx.set(THROTTLE_SLOT, lock_slot(lock))
        if event == "lookup_refused":
            await ctx.rt.require_outbox().enqueue(security_event(
                "lookup_refused", lock, ctx.tracker, ctx.rt.require_throttle().limits))


class ActionCompleteOrderJob(Action):
    """Runs when the form is done: do the job, or say why it stopped."""

    def name(self) -> str:
        return "action_complete_order_job"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        ctx = JobContext(await get_runtime(), dispatcher, tracker)
        reason = None
        if ctx.get(LOCKED_SLOT):
            ctx.say("utter_lookup_locked")
            reason = "lookup_locked"
        elif ctx.get(THROTTLE_SLOT) and not ctx.get(VERIFIED_SLOT):
            # Offered a person (a button), not handed over: a script that opens a chat per
            # guess must not fill the agents' queue; the console lists the security event.
            until = rt_local(ctx, ctx.get(THROTTLE_SLOT).get("until"))
            ctx.say("utter_lookup_throttled", until=fmt.moment(until, ctx.lang),
                    timezone=until.tzname() or ctx.rt.policy.timezone)
        elif (ctx.get(FAILURES_SLOT) or 0) >= MAX_FORM_FAILURES:
            ctx.say("utter_form_gave_up")
            reason = "form_failed"
        elif ctx.get(VERIFIED_SLOT):
            await current_job(tracker).complete(ctx)
            reason = ctx.escalation
            if reason is None:
                ctx.say("utter_anything_else")
        clear_job(ctx, None)
        # A person takes over (the policy says so for these): the escalation policy runs
        # action_human_handoff next.
        return slot_events(ctx) + (escalate(reason) if reason else [])


def rt_local(ctx: JobContext, value: Any) -> datetime:
    """A lock's end (ISO, from the slot) in the shop's time zone."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        moment = ctx.rt.now()
    return ctx.rt.calendar.local(moment if moment.tzinfo else moment.replace(tzinfo=UTC))

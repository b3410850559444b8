"""Where does my request stand? Returns and warranty claims, and the wait for a person.

* "What's happening with my return / warranty claim?" (``case_status``) is an order job:
  the order form verifies the order as for every job (or uses the one verified earlier),
  then ``StatusJob.complete`` tells each return and claim of that order from the shop.
* "What's happening with my request to talk to someone?" (``request_status``) needs no
  order: ``action_request_status`` asks the handoff service. While a chat is queued or
  with an agent the assistant is paused and the handoff service answers itself; this
  action covers no open request, a request queued outside agent hours, and the service
  being unreachable.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import formatting as fmt
from actions.conversation import language, say
from actions.jobs import Job, JobContext
from actions.runtime import get_runtime

RETURN_STATUSES = frozenset({"awaiting_drop_off", "refunded"})
CLAIM_STATUSES = frozenset({"open"})


class StatusJob(Job):
    name = "status"

    async def complete(self, ctx: JobContext) -> None:
        order = await ctx.order()
        history = await ctx.history()
        names = {item.sku: item.name for item in order.items}
        if not history.returns and not history.claims:
            ctx.say("utter_case_status_none", order_id=order.order_id)
            return
        for record in history.returns:
            status = record.status if record.status in RETURN_STATUSES else "other"
            ctx.say(f"utter_case_status_return_{status}", rma=record.rma,
                    item=names.get(record.sku, record.sku),
                    created_on=fmt.day_with_year(record.created_at, ctx.lang),
                    drop_off_by=fmt.day_with_year(record.drop_off_by, ctx.lang)
                    if record.drop_off_by else "")
        for claim in history.claims:
            status = claim.status if claim.status in CLAIM_STATUSES else "other"
            ctx.say(f"utter_case_status_claim_{status}", claim_id=claim.claim_id,
                    item=names.get(claim.sku, claim.sku),
                    created_on=fmt.day_with_year(claim.created_at, ctx.lang))


class ActionRequestStatus(Action):
    def name(self) -> str:
        return "action_request_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        rt = await get_runtime()
        state = await rt.require_handoff_status().state(tracker.sender_id)
        if state is None:
            say(dispatcher, "utter_request_status_unknown")
        elif state["state"] == "queued":
            if state["position"] is not None and state["minutes"] is not None:
                say(dispatcher, "utter_request_status_queued", position=state["position"],
                    minutes=state["minutes"])
            else:
                say(dispatcher, "utter_request_status_queued_no_estimate")
        elif state["state"] == "with_agent":
            say(dispatcher, "utter_request_status_with_agent",
                agent_name=state["agent_name"] or "")
        elif state["state"] == "outside_hours":
            back = state["agents_back_text"]
            if back is None:
                opening = rt.hours.next_opening(rt.now())
                back = fmt.moment(opening, language(tracker)) if opening else ""
            say(dispatcher, "utter_request_status_outside_hours", agents_back=back)
        else:
            say(dispatcher, "utter_request_status_none")
        return []

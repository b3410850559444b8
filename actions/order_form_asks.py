"""The questions of the order form that name facts about the verified order (its items,
fees, dates): Rasa runs ``action_ask_<slot>`` for them instead of a fixed response."""

from __future__ import annotations

import abc

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.jobs import (
    JobContext,
)
from actions.order_form import RETURN_JOB, WARRANTY_JOB
from actions.orders import order_facts
from actions.runtime import get_runtime


class AskAction(Action, abc.ABC):
    """Asks for a slot with facts about the verified order (item names, fees, dates)."""

    action_name = ""

    def name(self) -> str:
        return self.action_name

    @abc.abstractmethod
    async def ask(self, ctx: JobContext) -> None:
        """Send the question."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        ctx = JobContext(await get_runtime(), dispatcher, tracker)
        await self.ask(ctx)
        return []


class ActionAskReturnItem(AskAction):
    action_name = "action_ask_return_item"

    async def ask(self, ctx: JobContext) -> None:
        await RETURN_JOB.ask_item(ctx)


class ActionAskReturnConfirm(AskAction):
    action_name = "action_ask_return_confirm"

    async def ask(self, ctx: JobContext) -> None:
        await RETURN_JOB.ask_confirm(ctx)


class ActionAskWarrantyItem(AskAction):
    action_name = "action_ask_warranty_item"

    async def ask(self, ctx: JobContext) -> None:
        await WARRANTY_JOB.ask_item(ctx)


class ActionAskSerialNumber(AskAction):
    action_name = "action_ask_serial_number"

    async def ask(self, ctx: JobContext) -> None:
        await WARRANTY_JOB.ask_serial(ctx)


class ActionAskWarrantyConfirm(AskAction):
    action_name = "action_ask_warranty_confirm"

    async def ask(self, ctx: JobContext) -> None:
        await WARRANTY_JOB.ask_confirm(ctx)


class ActionAskSealIntact(AskAction):
    action_name = "action_ask_seal_intact"

    async def ask(self, ctx: JobContext) -> None:
        item = (await ctx.order()).item(ctx.get("return_item"))
        ctx.say("utter_ask_seal_intact", item=item.name if item else "")


class ActionAskCancelConfirm(AskAction):
    action_name = "action_ask_cancel_confirm"

    async def ask(self, ctx: JobContext) -> None:
        ctx.say("utter_ask_cancel_confirm", **order_facts(ctx, await ctx.order()))


"""Surveys the handoff service asks Rasa to run: after an agent resolved a chat, and when a
conversation has gone quiet (``SURVEY_QUIET_SECONDS``). The survey action decides whether
one is due (never twice, never during a handoff)."""

from __future__ import annotations

import logging
from datetime import timedelta

from contract import metrics_tables as mt
from handoff.rasa_client import RasaClient, RasaError
from handoff.store import Ticket, TicketStore, utcnow
from metrics.records import MetricsStore

log = logging.getLogger(__name__)

SURVEY_INTENT = "EXTERNAL_survey"
# Quiet conversations are looked for among those active in this window before the quiet
# time; older ones (the service was down) are left alone.
SURVEY_WINDOW = timedelta(hours=6)


class Surveys:
    def __init__(self, store: TicketStore, rasa: RasaClient, metrics: MetricsStore | None,
                 quiet_seconds: float) -> None:
        self.store = store
        self.rasa = rasa
        self.metrics = metrics
        self.quiet_seconds = quiet_seconds

    async def trigger(self, conversation_id: str, channel: str, trigger: str) -> None:
        try:
            await self.rasa.trigger_intent(conversation_id, SURVEY_INTENT,
                                           {"survey_trigger": trigger}, channel)
        except RasaError as exc:
            log.warning("survey for %s (%s) not triggered: %s", conversation_id, trigger, exc)

    async def after_handback(self, ticket: Ticket) -> None:
        """The agent resolved the chat: the conversation has ended, so ask how it went."""
        await self.trigger(ticket.conversation_id, ticket.channel, "agent_resolved")

    async def sweep(self) -> int:
        """Conversations quiet for SURVEY_QUIET_SECONDS get the survey, once per silence."""
        quiet = self.quiet_seconds
        if self.metrics is None or quiet <= 0:
            return 0
        before = utcnow() - timedelta(seconds=quiet)
        open_now = await self.store.open_conversations()
        nudged = 0
        for conversation_id, last_at, channel in await self.metrics.quiet_conversations(
                before - SURVEY_WINDOW, before):
            if conversation_id in open_now or not channel:
                continue  # never in the middle of a handoff
            if await self.metrics.has(mt.SURVEY_NUDGED, conversation_id, last_at):
                continue
            await self.metrics.record(f"nudge:{conversation_id}:{last_at.timestamp()}",
                                      conversation_id, mt.SURVEY_NUDGED, channel=channel)
            await self.trigger(conversation_id, channel, "quiet")
            nudged += 1
        return nudged

"""Questions answered from the knowledge base, and the customer's "did that help?".

Every message that is not one of the assistant's jobs comes here (the ``faq`` intent, the
NLU fallback and out-of-scope alike). A confident answer shows the best passage of the best
article in the customer's language, with its title, and asks whether it helped. Below the
calibrated threshold the assistant does not guess: it says so and offers the two closest
topics and a person. Low-confidence answers and "that did not help" are unresolved turns:
counted in the ``unresolved_turns`` slot (the handoff uses it) and recorded in the
knowledge log.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import formatting as fmt
from actions.conversation import (
    is_button_payload,
    language,
    latest_entity,
    latest_intent,
    latest_text,
    say,
)
from actions.escalation import escalate
from actions.knowledge_log import Outcome
from actions.runtime import Runtime, get_runtime

ARTICLE_SLOT = "faq_article"
OPTIONS_SLOT = "faq_options"
AWAITING_SLOT = "faq_awaiting_feedback"
UNRESOLVED_SLOT = "unresolved_turns"
HELPED_INTENTS = frozenset({"faq_helped", "affirm", "thank"})
# Articles name the job they are about (front matter `intent`); the answer then offers it.
JOB_INTENTS = frozenset({"track_order", "cancel_order", "change_address", "report_lost_parcel",
                         "return_item", "warranty_claim"})


def recorded_at() -> datetime:
    """When a turn happened, for the record: the wall clock, even when a demo pins the
    rules' "now", so the knowledge log lines up with Rasa's events in the metrics."""
    return datetime.now(UTC)


def unresolved_turns(tracker: Tracker) -> int:
    return int(tracker.get_slot(UNRESOLVED_SLOT) or 0)


# Words that point at the first or second suggested topic; stems for Russian and Ukrainian.
_ORDINALS = ({"first", "1", "1st", "one", "перв", "перш"},
             {"second", "2", "2nd", "two", "втор", "друг"})


def picked_option(tracker: Tracker) -> str | None:
    """'the second topic' typed after the suggestions: the article it points at.

    The first ordinal word decides ("the second one" is the second topic).
    """
    options = tracker.get_slot(OPTIONS_SLOT) or []
    for word in re.findall(r"\w+", latest_text(tracker).lower()):
        for position, markers in enumerate(_ORDINALS):
            if position < len(options) and any(
                    word == m or (len(m) >= 4 and word.startswith(m)) for m in markers):
                return str(options[position])
    return None


def _in_form(tracker: Tracker) -> bool:
    return bool((tracker.active_loop or {}).get("name"))


class ActionAnswerQuestion(Action):
    def name(self) -> str:
        return "action_answer_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        rt = await get_runtime()
        lang = language(tracker)
        intent, _confidence = latest_intent(tracker)
        if intent == "faq_pick":
            picked = latest_entity(tracker, ARTICLE_SLOT) or picked_option(tracker)
            if picked:
                return await self._answer_picked(dispatcher, tracker, rt, str(picked), lang)
        question = latest_text(tracker)
        if not question or is_button_payload(tracker):
            say(dispatcher, "utter_faq_no_question")
            return []
        knowledge = rt.require_knowledge()
        answer = await knowledge.ask(question, lang)
        best = answer.best
        if best is not None and answer.confident:
            self._show(dispatcher, tracker, best.title, best.passage.text, best.fallback,
                       best.passage.language, lang)
            job = knowledge.job_of(best.article_id)
            if job in JOB_INTENTS and not _in_form(tracker):
                say(dispatcher, f"utter_faq_offer_{job}")
            await rt.knowledge_log.record(tracker.sender_id, recorded_at(), lang, Outcome.ANSWERED,
                                          question, best.article_id, answer.score)
            return [SlotSet(ARTICLE_SLOT, best.article_id),
                    SlotSet(AWAITING_SLOT, not _in_form(tracker))]
        outcome = Outcome.OUT_OF_SCOPE if intent == "out_of_scope" else Outcome.LOW_CONFIDENCE
        options = answer.hits[:2]
        await rt.knowledge_log.record(tracker.sender_id, recorded_at(), lang, outcome, question,
                                      best.article_id if best else None, answer.score)
        unresolved = unresolved_turns(tracker) + 1
        if unresolved >= rt.settings.unresolved_limit:
            # Not another "I'm not sure": a person takes over (action_human_handoff says so).
            return [SlotSet(ARTICLE_SLOT, None), SlotSet(AWAITING_SLOT, False),
                    SlotSet(UNRESOLVED_SLOT, float(unresolved)), *escalate("unresolved")]
        if outcome is Outcome.OUT_OF_SCOPE or len(options) < 2:
            say(dispatcher, "utter_out_of_scope")
        else:
            say(dispatcher, "utter_faq_unsure",
                faq_option_1=options[0].article_id, faq_option_1_title=options[0].title,
                faq_option_2=options[1].article_id, faq_option_2_title=options[1].title)
        return [SlotSet(ARTICLE_SLOT, None), SlotSet(AWAITING_SLOT, False),
                SlotSet(OPTIONS_SLOT, [h.article_id for h in options]),
                SlotSet(UNRESOLVED_SLOT, float(unresolved))]

    async def _answer_picked(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                             rt: Runtime, article_id: str, lang: str) -> list[EventType]:
        """A topic button: the customer chose the article, so it is answered as it is."""
        hit = rt.require_knowledge().article(article_id, lang)
        if hit is None:
            say(dispatcher, "utter_faq_no_question")
            return []
        self._show(dispatcher, tracker, hit.title, hit.passage.text, hit.fallback,
                   hit.passage.language, lang)
        await rt.knowledge_log.record(tracker.sender_id, recorded_at(), lang, Outcome.ANSWERED,
                                      None, article_id, None)
        return [SlotSet(ARTICLE_SLOT, article_id), SlotSet(AWAITING_SLOT, not _in_form(tracker))]

    @staticmethod
    def _show(dispatcher: CollectingDispatcher, tracker: Tracker, title: str, text: str,
              fallback: bool, shown_language: str, lang: str) -> None:
        if fallback:
            say(dispatcher, "utter_faq_other_language",
                faq_language_name=fmt.language_name(shown_language, lang))
        # In the middle of a job the form asks its question right after the answer, so
        # "did that help?" would only get in the way.
        response = "utter_faq_answer_in_form" if _in_form(tracker) else "utter_faq_answer"
        say(dispatcher, response, faq_title=title, faq_text=text)


class ActionFaqFeedback(Action):
    """'Yes, that helped' / 'No, it did not', by button or typed after an answer."""

    def name(self) -> str:
        return "action_faq_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        rt = await get_runtime()
        lang = language(tracker)
        intent, _confidence = latest_intent(tracker)
        article = tracker.get_slot(ARTICLE_SLOT)
        events: list[EventType] = [SlotSet(AWAITING_SLOT, False)]
        if intent in HELPED_INTENTS:
            if tracker.get_slot(AWAITING_SLOT) or intent == "faq_helped":
                await rt.knowledge_log.record(tracker.sender_id, recorded_at(), lang,
                                              Outcome.HELPED, None, article, None)
                say(dispatcher, "utter_faq_helped")
                return [*events, SlotSet(UNRESOLVED_SLOT, 0.0)]
            say(dispatcher, "utter_how_can_i_help")
            return events
        await rt.knowledge_log.record(tracker.sender_id, recorded_at(), lang, Outcome.NOT_HELPED,
                                      None, article, None)
        unresolved = unresolved_turns(tracker) + 1
        if unresolved >= rt.settings.unresolved_limit:
            return [*events, SlotSet(UNRESOLVED_SLOT, float(unresolved)), *escalate("unresolved")]
        say(dispatcher, "utter_faq_not_helped")
        return [*events, SlotSet(UNRESOLVED_SLOT, float(unresolved))]

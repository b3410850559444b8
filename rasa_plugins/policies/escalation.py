"""Hands the conversation to a person as soon as a trigger asks for it.

Triggers live in the action server (sentiment on every message, unresolved answers,
failed forms, locked look-ups, lost parcels) and all say the same thing: they set the
``escalation_reason`` slot. This policy then predicts ``action_human_handoff`` with full
confidence and a priority above the RulePolicy's, so the handoff wins over whatever a
rule or a form would do next, in any state of the conversation. Writing this as rules
would need one rule per state; a policy needs no training data and cannot be forgotten
by a story.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class EscalationPolicy(Policy):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # RulePolicy has priority 6: on equal confidence the higher priority wins.
        return {"priority": 7, "slot": "escalation_reason", "action": "action_human_handoff"}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 execution_context: ExecutionContext, featurizer: Any = None) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        self.slot = str(config.get("slot", "escalation_reason"))
        self.action = str(config.get("action", "action_human_handoff"))

    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain,
              **kwargs: Any) -> Resource:
        return self._resource  # nothing to learn: the triggers are in the action server

    def _just_handed_over(self, tracker: DialogueStateTracker) -> bool:
        """The handoff ran in this turn: no customer message since it."""
        for event in reversed(tracker.events):
            if isinstance(event, UserUttered):
                return False
            if isinstance(event, ActionExecuted):
                return event.action_name == self.action
        return False

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: dict[str, Any] | None = None,
                                     **kwargs: Any) -> PolicyPrediction:
        result = self._default_predictions(domain)
        if self.action not in domain.action_names_or_texts:
            return self._prediction(result)
        if self._just_handed_over(tracker):
            # A person has the chat now (the action paused it): only listen. A later
            # message (a /restart, say) is a new turn for the other policies.
            result[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
            return self._prediction(result, is_no_user_prediction=True)
        due = tracker.get_slot(self.slot) if self.slot in tracker.slots else None
        if due and not tracker.is_paused():
            result[domain.index_for_action(self.action)] = 1.0
            # Like the RulePolicy's own loop predictions, this overrules predictions based
            # on the user's message, so it also wins while a form is active.
            return self._prediction(result, is_no_user_prediction=True)
        return self._prediction(result)

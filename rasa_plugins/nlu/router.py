"""A second NLU head: is the message a question about the rules or a request about my order?

DIET tells topics apart well (returns, warranty, delivery) but not what the customer wants
done about the topic: "what is the return window for headphones?" and "return the
headphones from order ORB-104217" share their words. This component runs after DIET and
the FallbackClassifier and decides that one thing, from how the message is said:

* the cues of ``rasa_plugins.nlu.cues`` (order references, "my", "I want", "can you", fault
  reports, how-to question frames, and pairs of them), plus word and character n-grams,
  weighed by a logistic regression trained on the NLU data, where ``faq`` examples are
  questions and the six job intents' examples are requests;
* a question that DIET gave to a job becomes ``faq`` (the knowledge base answers it and
  offers the job as a button); a request that DIET gave to ``faq``, the NLU fallback or
  out-of-scope becomes the job with the highest confidence in DIET's ranking, or, when
  DIET has none, the job its words name.

Other intents (greetings, an order number alone, a person, stop...) are left as they are.
The weights are stored as JSON in the model, never pickled.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa_plugins.nlu.decision import JOBS, QUESTION, route
from rasa_plugins.nlu.features import FEATURES_ID, RouterModel, fit_router

FILE = "router.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class RequestRouter(GraphComponent, IntentClassifier):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # P(request) at or above which a message is a request, below which a question.
            "threshold": 0.5,
            # P(request) below which a message DIET gave to a job becomes a question.
            "question_below": 0.5,
            # A job in DIET's ranking below this confidence is not taken for a request.
            "min_job_confidence": 0.01,
            "regularisation": 1.0,
            # Changes with the feature code, so Rasa's cache retrains the router then.
            "features": FEATURES_ID,
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 model: RouterModel | None = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> RequestRouter:
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> RequestRouter:
        try:
            with model_storage.read_from(resource) as folder:
                data = json.loads((folder / FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            # Trained without question/request examples: nothing to route.
            return cls(config, model_storage, resource)
        try:
            return cls(config, model_storage, resource, RouterModel.from_json(data))
        except ValueError as exc:
            raise ValueError(f"{exc} (`make train`): the model was trained with an older "
                             f"rasa_plugins/nlu") from exc

    def train(self, training_data: TrainingData) -> Resource:
        texts, labels = [], []
        for example in training_data.intent_examples:
            intent = example.get(INTENT)
            if intent == QUESTION or intent in JOBS:
                texts.append(str(example.get(TEXT)))
                labels.append(1 if intent in JOBS else 0)
        if len(set(labels)) < 2:
            return self._resource
        self.model = fit_router(texts, np.array(labels), float(self.config["regularisation"]))
        with self._model_storage.write_to(self._resource) as folder:
            (folder / FILE).write_text(json.dumps(self.model.to_json()), encoding="utf-8")
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._route(message)
        return messages

    def _route(self, message: Message) -> None:
        text = str(message.get(TEXT) or "")
        if self.model is None:
            return
        decision = route(text, message.get(INTENT) or {},
                         message.get(INTENT_RANKING_KEY) or [], self.model.predict,
                         float(self.config["threshold"]),
                         float(self.config["min_job_confidence"]),
                         float(self.config["question_below"]))
        if decision is not None:
            self._set(message, *decision)

    @staticmethod
    def _set(message: Message, name: str, confidence: float, was: str, p_request: float) -> None:
        message.set(INTENT, {"name": name, "confidence": round(confidence, 4),
                             "routed_from": was, "p_request": round(p_request, 4)},
                    add_to_output=True)
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != name]
        message.set(INTENT_RANKING_KEY, [{"name": name, "confidence": round(confidence, 4)},
                                         *ranking], add_to_output=True)

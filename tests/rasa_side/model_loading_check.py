"""Run with .venv-rasa's Python (tests/bot/test_rasa_side.py does): the newest trained
model loaded by Rasa's loader and by rasa_plugins/model_loading.py gives the same parse (intent,
confidences, ranking) for every message, and the same next-action predictions for
conversations. Prints one JSON object: counts, differences, load seconds."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rasa.core.agent import Agent  # noqa: E402
from rasa.core.channels import UserMessage  # noqa: E402

from bot.processes import newest_model  # noqa: E402

MESSAGES = [
    "hi", "привет", "вітаю", "thanks", "where is my order ORB-104388",
    "где мой заказ ORB-104217", "ivan.petrov@example.ru", "how long is the warranty on a laptop?",
    "can i pay in instalments?", "сколько идёт доставка курьером?",
    "I want to return the screen protector from order ORB-104444",
    "the TV from order ORB-101500 stopped working, is it still covered?",
    "are you kidding me?!", "I need a person", "cancel my order", "yes", "no", "/affirm",
    "what is the return window for headphones?", "чи можна повернути навушники?",
    "asdfgh", "my phone does not charge", "change the delivery address",
]
CONVERSATIONS = [
    ["hi", "where is my order ORB-104388", "ivan.petrov@example.ru", "thanks"],
    ["I want to return the screen protector from order ORB-104444", "how long is the "
     "warranty on a laptop?", "I need a person"],
    ["привет", "хочу вернуть чехол", "спасибо"],
]


async def run(agent: Agent) -> dict[str, Any]:
    parses = []
    for text in MESSAGES:
        parsed = await agent.parse_message(text)
        parses.append({"intent": parsed["intent"],
                       "ranking": parsed.get("intent_ranking"),
                       "extra": {k: v for k, v in parsed.items()
                                 if k not in ("intent", "intent_ranking", "text")}})
    predictions = []
    for number, turns in enumerate(CONVERSATIONS):
        sender = f"check-{number}"
        for text in turns:
            tracker = await agent.processor.log_message(UserMessage(text, sender_id=sender),
                                                        should_save_tracker=True)
            prediction = agent.processor._predict_next_with_tracker(tracker)
            # TED's own prediction, whichever policy wins (rules win most turns here).
            runner = agent.processor.graph_runner
            ted = next(name for name in runner._graph_schema.nodes if "TEDPolicy" in name)
            ted_prediction = runner.run(inputs={"__tracker__": tracker}, targets=[ted])[ted]
            predictions.append({"ted": [round(p, 12) for p in ted_prediction.probabilities]})
            predictions.append({"policy": prediction.policy_name,
                                "probabilities": prediction.probabilities,
                                "events": [{k: v for k, v in e.as_dict().items()
                                            if k != "timestamp"} for e in prediction.events]})
    return {"parses": parses, "predictions": predictions}


def load(model: Path) -> tuple[Agent, float]:
    started = time.perf_counter()
    agent = Agent.load(str(model))
    return agent, time.perf_counter() - started


def main() -> None:
    model = newest_model()
    stock, stock_seconds = load(model)
    before = asyncio.run(run(stock))
    from rasa_plugins import model_loading

    model_loading.install()
    fast, fast_seconds = load(model)
    after = asyncio.run(run(fast))
    diffs = [i for i, (a, b) in enumerate(zip(before["parses"], after["parses"], strict=True))
             if json.dumps(a, default=str) != json.dumps(b, default=str)]
    pdiffs = [i for i, (a, b) in enumerate(zip(before["predictions"], after["predictions"],
                                               strict=True))
              if json.dumps(a, default=str) != json.dumps(b, default=str)]
    print(json.dumps({"messages": len(MESSAGES), "parse_differences": diffs,
                      "predictions": len(before["predictions"]),
                      "prediction_differences": pdiffs,
                      "stock_seconds": round(stock_seconds, 1),
                      "fast_seconds": round(fast_seconds, 1),
                      "sample": [before["predictions"][i] for i in pdiffs[:1]]
                      + [after["predictions"][i] for i in pdiffs[:1]]}, default=str))


if __name__ == "__main__":
    main()

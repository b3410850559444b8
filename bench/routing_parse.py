"""Parse messages with the trained Rasa model (NLU only); runs in the Rasa environment.

Usage: .venv-rasa/bin/python bench/routing_parse.py MODEL IN.json OUT.json
IN is a JSON list of texts; OUT gets, per text, the intent, its confidence and, when the
router changed DIET's decision, what DIET said and the router's P(request).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


async def parse_all(model: str, texts: list[str]) -> list[dict[str, object]]:
    from rasa.core.agent import Agent  # noqa: PLC0415 - only in the Rasa environment

    agent = Agent.load(model)
    out = []
    for text in texts:
        data = await agent.parse_message(text)
        intent = data.get("intent") or {}
        ranking = [r for r in data.get("intent_ranking") or []
                   if r.get("name") != intent.get("name")]
        out.append({"text": text, "intent": intent.get("name"),
                    "confidence": intent.get("confidence"),
                    "routed_from": intent.get("routed_from"), "p_request": intent.get("p_request"),
                    "second": ranking[0]["name"] if ranking else None})
    return out


def main() -> int:
    logging.disable(logging.WARNING)
    model, source, target = sys.argv[1:4]
    texts = json.loads(Path(source).read_text(encoding="utf-8"))
    results = asyncio.run(parse_all(model, texts))
    Path(target).write_text(json.dumps(results, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

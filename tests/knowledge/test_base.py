"""The knowledge base inside a server: embedding never blocks the event loop."""

from __future__ import annotations

import asyncio
import time

from knowledge.base import KnowledgeBase
from knowledge.retrieval import Retriever

QUESTIONS = ["could I spread the cost over several months?", "помощь с настройкой это гарантия",
             "I unsealed my earbuds, may I still send them back?", "экспресс доставка DHL"]


async def test_concurrent_questions_keep_the_event_loop_responsive(
        fixture_retriever: Retriever) -> None:
    base = KnowledgeBase(fixture_retriever)
    gaps: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    # 40 different questions: the encoder keeps recent query vectors, and asking the same
    # four ten times would embed only four.
    questions = QUESTIONS + [f"{q} {n}" for n in range(1, 10) for q in QUESTIONS]
    answers = await asyncio.gather(*(base.ask(q, "en") for q in questions))
    done.set()
    await beat
    base.close()
    assert len(answers) == 40 and all(a.best is not None for a in answers)
    assert [a.best.article_id for a in answers[:4] if a.best] == [
        "instalments", "warranty-vs-after-sales", "opened-headphones", "express-delivery"]
    # 40 embeddings take far longer than this; the loop must still tick between them.
    assert len(gaps) > 20
    assert max(gaps) < 0.25, f"event loop blocked for {max(gaps):.3f} s"

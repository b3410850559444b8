"""The knowledge base a server holds: model, index and retriever, loaded once at start-up."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from knowledge.embedder import Embedder
from knowledge.index import load_index, stale_articles
from knowledge.retrieval import Answer, Hit, Retriever
from knowledge.settings import KnowledgeSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


class KnowledgeBase:
    """Answers questions; embedding runs in a worker thread, never on the event loop."""

    def __init__(self, retriever: Retriever) -> None:
        self.retriever = retriever
        # The assistant's job each article is about (front matter `intent`), any language.
        self._jobs = {key.split("/", 1)[1]: str(entry["intent"])
                      for key, entry in retriever.index.manifest.get("articles", {}).items()
                      if entry.get("intent")}
        # One worker: the encoder already uses every core it is given (KNOWLEDGE_THREADS);
        # more workers would only make concurrent questions slower each.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="knowledge")

    @classmethod
    def load(cls, settings: KnowledgeSettings) -> KnowledgeBase:
        """Load the model and the index; raise with a message that says what to run."""
        started = time.monotonic()
        embedder = Embedder(settings)
        index = load_index(settings, embedder.model_id)
        try:
            stale = stale_articles(settings)
        except ValueError as exc:
            log.warning("knowledge articles have problems (%s); serving the last index", exc)
            stale = []
        if stale:
            log.warning("knowledge index is older than %d article(s) (%s...): run "
                        "`python -m knowledge build`", len(stale), ", ".join(stale[:3]))
        base = cls(Retriever(index, embedder, settings))
        base.retriever.answer("warm-up", "en")  # the first call pays one-off costs
        log.info("knowledge base ready: %d passages, %s index, model %s, threshold %.3f, "
                 "%.1f s", index.size, index.manifest.get("index_type"), embedder.model_id,
                 settings.threshold, time.monotonic() - started)
        return base

    async def ask(self, question: str, language: str) -> Answer:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.retriever.answer, question,
                                          language)

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run CPU-bound work that uses the encoder (sentiment scoring) on its worker."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, work, *args)

    def job_of(self, article_id: str) -> str | None:
        """The assistant's job an article is about (its front matter `intent`), if any."""
        return self._jobs.get(article_id)

    def article(self, article_id: str, language: str) -> Hit | None:
        return self.retriever.article(article_id, language)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

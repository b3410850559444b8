"""Every knowledge-base turn, recorded for the handoff and for content editors.

One row per event: an answer given, a low-confidence turn, an out-of-scope question, and
the customer's "that helped" / "that did not help". Unresolved turns (low confidence, not
helped) feed the escalation rules and the "most frequent unanswered questions" report.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, Float, Integer, String, Text, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MAX_QUESTION_CHARS = 2000


class Outcome(StrEnum):
    ANSWERED = "answered"
    LOW_CONFIDENCE = "low_confidence"
    OUT_OF_SCOPE = "out_of_scope"
    HELPED = "helped"
    NOT_HELPED = "not_helped"

    @property
    def unresolved(self) -> bool:
        return self in {Outcome.LOW_CONFIDENCE, Outcome.OUT_OF_SCOPE, Outcome.NOT_HELPED}


class _Base(DeclarativeBase):
    pass


class KnowledgeTurnRow(_Base):
    __tablename__ = "knowledge_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    language: Mapped[str] = mapped_column(String(8))
    outcome: Mapped[str] = mapped_column(String(32), index=True)
    question: Mapped[str | None] = mapped_column(Text, nullable=True)
    article_id: Mapped[str | None] = mapped_column(String(120), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)


class KnowledgeLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def create_schema(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(_Base.metadata.create_all)

    async def record(self, conversation_id: str, now: datetime, language: str,
                     outcome: Outcome, question: str | None = None,
                     article_id: str | None = None, score: float | None = None) -> None:
        async with self.sessions.begin() as session:
            session.add(KnowledgeTurnRow(
                conversation_id=conversation_id, created_at=now, language=language,
                outcome=outcome.value,
                question=question[:MAX_QUESTION_CHARS] if question else None,
                article_id=article_id, score=score))

    async def turns(self, conversation_id: str) -> list[KnowledgeTurnRow]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(KnowledgeTurnRow).where(KnowledgeTurnRow.conversation_id == conversation_id)
                .order_by(KnowledgeTurnRow.id))
            return list(rows)

    async def unresolved_count(self, conversation_id: str) -> int:
        unresolved = [o.value for o in Outcome if o.unresolved]
        async with self.sessions() as session:
            return int(await session.scalar(
                select(func.count()).select_from(KnowledgeTurnRow)
                .where(KnowledgeTurnRow.conversation_id == conversation_id,
                       KnowledgeTurnRow.outcome.in_(unresolved))) or 0)

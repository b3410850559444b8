"""Survey answers in the metrics database (``contract/metrics_tables.py``, table ``surveys``).

One row per conversation session, inserted when the survey is offered and updated as the
customer answers. The unique (conversation_id, session_started_at) key is the guard
against asking twice: a second offer for the same session inserts nothing. Whether the
recommendation question is asked too is decided in the same transaction as the insert,
from the row's id (every tenth survey), so concurrent action servers cannot both skip it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from contract.metrics_tables import MetricsBase, Survey

NPS_EVERY = 10
MAX_COMMENT_CHARS = 2000


@dataclass(frozen=True)
class SurveyOffer:
    """What is known about a conversation session when its survey is offered."""

    conversation_id: str
    session_started_at: datetime
    trigger: str
    asked_at: datetime
    channel: str
    language: str
    human_involved: bool = False
    escalation_reason: str | None = None
    articles: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OfferedSurvey:
    id: int
    nps_asked: bool


def aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SurveyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def create_schema(self) -> None:
        async with self.engine.begin() as conn:
            table = MetricsBase.metadata.tables[Survey.__tablename__]
            await conn.run_sync(MetricsBase.metadata.create_all, tables=[table])

    async def offer(self, offer: SurveyOffer) -> OfferedSurvey | None:
        """Insert the survey; None if this session has one already (never ask twice)."""
        try:
            async with self.sessions.begin() as session:
                row = Survey(
                    conversation_id=offer.conversation_id,
                    session_started_at=offer.session_started_at, trigger=offer.trigger,
                    asked_at=offer.asked_at, channel=offer.channel, language=offer.language,
                    human_involved=offer.human_involved,
                    escalation_reason=offer.escalation_reason,
                    articles_json=json.dumps(offer.articles, ensure_ascii=False),
                    nps_asked=False)
                session.add(row)
                await session.flush()
                row.nps_asked = row.id % NPS_EVERY == 0
        except IntegrityError:
            return None
        return OfferedSurvey(row.id, row.nps_asked)

    async def get(self, survey_id: int) -> Survey | None:
        async with self.sessions() as session:
            return await session.get(Survey, survey_id)

    async def answer_csat(self, survey_id: int, score: int, now: datetime) -> None:
        await self._set(survey_id, now, csat=score)

    async def answer_nps(self, survey_id: int, score: int, now: datetime) -> None:
        await self._set(survey_id, now, nps=score)

    async def answer_comment(self, survey_id: int, comment: str, now: datetime) -> None:
        await self._set(survey_id, now, comment=comment[:MAX_COMMENT_CHARS])

    async def _set(self, survey_id: int, now: datetime, **values: object) -> None:
        async with self.sessions.begin() as session:
            await session.execute(update(Survey).where(Survey.id == survey_id)
                                  .values(answered_at=now, **values))

    async def close(self) -> None:
        await self.engine.dispose()

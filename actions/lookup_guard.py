"""Failed order look-ups per conversation, kept outside the tracker.

The tracker's slot is reset by ``/restart``; this record is not, so the lock after too
many wrong details holds for the whole conversation whatever the customer sends.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class _Base(DeclarativeBase):
    pass


class LookupFailureRow(_Base):
    __tablename__ = "lookup_failures"

    conversation_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LookupGuard:
    def __init__(self, engine: AsyncEngine, max_failures: int) -> None:
        self.engine = engine
        self.max_failures = max_failures
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def create_schema(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(_Base.metadata.create_all)

    async def failures(self, conversation_id: str) -> int:
        async with self.sessions() as session:
            row = await session.get(LookupFailureRow, conversation_id)
            return row.failures if row else 0

    async def record_failure(self, conversation_id: str, now: datetime) -> int:
        """Count one more failed look-up; return the new total."""
        async with self.sessions.begin() as session:
            row = await session.scalar(
                select(LookupFailureRow)
                .where(LookupFailureRow.conversation_id == conversation_id)
                .with_for_update()
            )
            if row is None:
                row = LookupFailureRow(conversation_id=conversation_id, failures=0)
                session.add(row)
            row.failures += 1
            row.updated_at = now
            return row.failures

    async def is_locked(self, conversation_id: str) -> bool:
        return await self.failures(conversation_id) >= self.max_failures

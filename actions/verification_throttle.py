"""Failed verifications counted per order number and per client, across conversations.

The per-conversation lock (``lookup_guard``) stops one chat; a script that opens a new
chat for every guess is stopped here. Each *subject* (``order:ORB-104217``,
``client:ip:3f9a...``) owns ``limit`` slots in the action server's database; an attempt
claims the slot used longest ago, and only if that use is older than the window. So no
subject gets more than ``limit`` attempts in any window, however many processes,
conversations or concurrent requests try: the claim is a compare-and-set on one row,
which is atomic on SQLite and PostgreSQL alike. A verification that succeeds gives its
slots back; one that fails keeps them, and when a subject's slots are all used the
subject is locked for the cooling period (at least until its oldest slot frees).

Nothing here looks at the shop: an order number that does not exist is counted, locked
and refused exactly like one that does, with the same queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import BigInteger, Integer, String, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Scope = Literal["order", "client"]
MAX_KEY_CHARS = 255
# A slot's use is a moment in milliseconds since the epoch; 0 is "never used".
_NEVER = 0


class _Base(DeclarativeBase):
    pass


class ThrottleSlotRow(_Base):
    __tablename__ = "verification_slots"

    subject: Mapped[str] = mapped_column(String(MAX_KEY_CHARS), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    used_at_ms: Mapped[int] = mapped_column(BigInteger, default=_NEVER)


class ThrottleLockRow(_Base):
    __tablename__ = "verification_locks"

    subject: Mapped[str] = mapped_column(String(MAX_KEY_CHARS), primary_key=True)
    locked_at_ms: Mapped[int] = mapped_column(BigInteger)
    locked_until_ms: Mapped[int] = mapped_column(BigInteger)
    failures: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class ThrottleLimits:
    """Failures allowed per order number and per client within the window, and the
    cooling period a subject refuses look-ups for once it has used them all."""

    order_failures: int = 5
    client_failures: int = 10
    window: timedelta = timedelta(hours=1)
    cooling: timedelta = timedelta(minutes=30)

    def limit(self, scope: Scope) -> int:
        return self.order_failures if scope == "order" else self.client_failures


@dataclass(frozen=True)
class Lock:
    """A subject refusing look-ups until ``until``; ``subject`` is the order number or the
    client id without its scope."""

    scope: Scope
    subject: str
    until: datetime
    failures: int = 0

    def as_slot(self) -> dict[str, Any]:
        return {"scope": self.scope, "until": self.until.isoformat(timespec="seconds")}


@dataclass(frozen=True)
class _Claim:
    scope: Scope
    subject: str
    slot: int
    previous_ms: int


@dataclass
class Attempt:
    """One verification let through (``refused`` is None) or refused by a lock."""

    refused: Lock | None = None
    remaining: int = 0       # attempts left to the most limited subject after this one
    claims: list[_Claim] = field(default_factory=list)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _key(scope: Scope, subject: str) -> str:
    return f"{scope}:{subject}"[:MAX_KEY_CHARS]


class VerificationThrottle:
    def __init__(self, engine: AsyncEngine, limits: ThrottleLimits) -> None:
        self.engine = engine
        self.limits = limits
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def create_schema(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(_Base.metadata.create_all)

    def _insert(self, table: Any) -> Any:
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            return postgresql.insert(table)
        if dialect == "sqlite":
            return sqlite.insert(table)
        raise RuntimeError(f"verification throttle: unsupported database {dialect!r} "
                           "(ACTIONS_DB_URL must be SQLite or PostgreSQL)")

    async def begin(self, order_id: str, client_id: str, now: datetime) -> Attempt:
        """Claim one attempt for the order number and one for the client, or refuse.

        The same statements run whatever the order number is; nothing here tells an
        existing order from a made-up one.
        """
        subjects: list[tuple[Scope, str]] = [("order", order_id), ("client", client_id)]
        attempt = Attempt(remaining=max(self.limits.order_failures,
                                        self.limits.client_failures))
        locks = await self._active_locks(subjects, now)
        for scope, subject in subjects:
            lock = locks.get(_key(scope, subject))
            if lock is None:
                claim = await self._claim(scope, subject, now)
                if claim is None:
                    lock = Lock(scope, subject, await self._free_at(scope, subject, now))
                else:
                    attempt.claims.append(claim)
            if lock is not None:
                await self.succeeded(attempt)  # give back what this attempt claimed
                return Attempt(refused=lock)
            used = await self._used(scope, subject, now)
            attempt.remaining = min(attempt.remaining, self.limits.limit(scope) - used)
        return attempt

    async def succeeded(self, attempt: Attempt) -> None:
        """The details matched: the attempt's slots are free again."""
        for claim in attempt.claims:
            async with self.sessions.begin() as session:
                await session.execute(
                    update(ThrottleSlotRow)
                    .where(ThrottleSlotRow.subject == _key(claim.scope, claim.subject),
                           ThrottleSlotRow.slot == claim.slot)
                    .values(used_at_ms=claim.previous_ms))
        attempt.claims = []

    async def failed(self, attempt: Attempt, now: datetime) -> list[Lock]:
        """The details did not match: the slots stay used. Returns the locks this failure
        set (each reported once, by the process that set it)."""
        locks: list[Lock] = []
        for claim in attempt.claims:
            used = await self._used(claim.scope, claim.subject, now)
            if used < self.limits.limit(claim.scope):
                continue
            until = max(now + self.limits.cooling,
                        await self._free_at(claim.scope, claim.subject, now))
            if await self._lock(_key(claim.scope, claim.subject), now, until, used):
                locks.append(Lock(claim.scope, claim.subject, until, used))
        return locks

    async def active_lock(self, scope: Scope, subject: str, now: datetime) -> Lock | None:
        return (await self._active_locks([(scope, subject)], now)).get(_key(scope, subject))

    # Statements ----------------------------------------------------------------------

    async def _active_locks(self, subjects: list[tuple[Scope, str]],
                            now: datetime) -> dict[str, Lock]:
        by_key = {_key(scope, subject): (scope, subject) for scope, subject in subjects}
        async with self.sessions() as session:
            rows = await session.scalars(
                select(ThrottleLockRow).where(ThrottleLockRow.subject.in_(list(by_key)),
                                              ThrottleLockRow.locked_until_ms > _ms(now)))
            return {row.subject: Lock(*by_key[row.subject], _moment(row.locked_until_ms),
                                      row.failures) for row in rows}

    async def _claim(self, scope: Scope, subject: str, now: datetime) -> _Claim | None:
        key, limit = _key(scope, subject), self.limits.limit(scope)
        cutoff = _ms(now - self.limits.window)
        async with self.sessions.begin() as session:
            await session.execute(
                self._insert(ThrottleSlotRow.__table__)
                .values([{"subject": key, "slot": n, "used_at_ms": _NEVER} for n in range(limit)])
                .on_conflict_do_nothing(index_elements=["subject", "slot"]))
        for _ in range(limit + 1):
            async with self.sessions.begin() as session:
                free = (await session.execute(
                    select(ThrottleSlotRow.slot, ThrottleSlotRow.used_at_ms)
                    .where(ThrottleSlotRow.subject == key, ThrottleSlotRow.slot < limit,
                           ThrottleSlotRow.used_at_ms <= cutoff)
                    .order_by(ThrottleSlotRow.used_at_ms, ThrottleSlotRow.slot).limit(1))).first()
                if free is None:
                    return None
                # Compare-and-set: another process that took this slot first makes it 0 rows.
                result = await session.execute(
                    update(ThrottleSlotRow)
                    .where(ThrottleSlotRow.subject == key, ThrottleSlotRow.slot == free.slot,
                           ThrottleSlotRow.used_at_ms == free.used_at_ms)
                    .values(used_at_ms=_ms(now)))
                if getattr(result, "rowcount", 0) == 1:
                    return _Claim(scope, subject, free.slot, free.used_at_ms)
        return None

    async def _used(self, scope: Scope, subject: str, now: datetime) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(
                select(func.count()).select_from(ThrottleSlotRow)
                .where(ThrottleSlotRow.subject == _key(scope, subject),
                       ThrottleSlotRow.slot < self.limits.limit(scope),
                       ThrottleSlotRow.used_at_ms > _ms(now - self.limits.window))) or 0)

    async def _free_at(self, scope: Scope, subject: str, now: datetime) -> datetime:
        """When the subject's next slot frees (now if one is free)."""
        async with self.sessions() as session:
            oldest = await self._oldest_use(session, scope, subject)
        if oldest is None or oldest <= _ms(now - self.limits.window):
            return now
        return _moment(oldest) + self.limits.window

    async def _oldest_use(self, session: AsyncSession, scope: Scope, subject: str) -> int | None:
        value = await session.scalar(
            select(func.min(ThrottleSlotRow.used_at_ms))
            .where(ThrottleSlotRow.subject == _key(scope, subject),
                   ThrottleSlotRow.slot < self.limits.limit(scope)))
        return None if value is None else int(value)

    async def _lock(self, key: str, now: datetime, until: datetime, failures: int) -> bool:
        """Lock ``key`` unless it is locked already; True if this call locked it."""
        table = ThrottleLockRow.__table__
        values = {"subject": key, "locked_at_ms": _ms(now), "locked_until_ms": _ms(until),
                  "failures": failures}
        statement = self._insert(table).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["subject"],
            set_={name: statement.excluded[name] for name in values if name != "subject"},
            where=table.c.locked_until_ms <= _ms(now),
        ).returning(table.c.subject)
        async with self.sessions.begin() as session:
            return (await session.execute(statement)).first() is not None

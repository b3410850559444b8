"""Agent accounts and console sessions.

Passwords are hashed with scrypt (memory-hard, in the standard library; n=2^14, r=8,
p=1, a 16-byte salt). Session cookies carry a random token; the database keeps only its
SHA-256, so a leaked database cannot log anyone in. Each session has its own CSRF token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from handoff.store import ROLES, Agent, AgentSession, Database, aware, utcnow

SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES = 2 ** 14, 8, 1, 32
MIN_PASSWORD_CHARS = 10
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class AccountError(ValueError):
    """A bad username, password or account request; the message says what to fix."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                         dklen=KEY_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                                r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# A fixed hash to spend the same time on unknown usernames as on known ones.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, db: Database, session_hours: float) -> None:
        self.db = db
        self.session_hours = session_hours

    async def add(self, username: str, display_name: str, password: str,
                  max_chats: int, role: str = "agent") -> Agent:
        username = username.strip().lower()
        if not USERNAME_RE.match(username):
            raise AccountError("the username must be 2-64 characters: a-z, 0-9, '.', '_', '-'")
        if len(password) < MIN_PASSWORD_CHARS:
            raise AccountError(f"the password must be at least {MIN_PASSWORD_CHARS} characters")
        if not display_name.strip():
            raise AccountError("the display name is empty (customers see it)")
        if max_chats < 1:
            raise AccountError("--max-chats must be at least 1")
        if role not in ROLES:
            raise AccountError(f"the role must be one of {', '.join(ROLES)}, not {role!r}")
        async with self.db.sessions.begin() as session:
            if await session.scalar(select(Agent).where(Agent.username == username)):
                raise AccountError(f"agent {username!r} exists already")
            agent = Agent(username=username, display_name=display_name.strip()[:120],
                          password_hash=hash_password(password), max_chats=max_chats,
                          active=True, created_at=utcnow(), role=role)
            session.add(agent)
        return agent

    async def set_password(self, username: str, password: str) -> None:
        if len(password) < MIN_PASSWORD_CHARS:
            raise AccountError(f"the password must be at least {MIN_PASSWORD_CHARS} characters")
        async with self.db.sessions.begin() as session:
            agent = await session.scalar(select(Agent).where(Agent.username == username))
            if agent is None:
                raise AccountError(f"no agent {username!r}")
            agent.password_hash = hash_password(password)
            await session.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id))

    async def set_role(self, username: str, role: str) -> None:
        if role not in ROLES:
            raise AccountError(f"the role must be one of {', '.join(ROLES)}, not {role!r}")
        async with self.db.sessions.begin() as session:
            agent = await session.scalar(select(Agent).where(Agent.username == username))
            if agent is None:
                raise AccountError(f"no agent {username!r}")
            agent.role = role

    async def set_active(self, username: str, active: bool) -> None:
        async with self.db.sessions.begin() as session:
            agent = await session.scalar(select(Agent).where(Agent.username == username))
            if agent is None:
                raise AccountError(f"no agent {username!r}")
            agent.active = active
            if not active:
                await session.execute(delete(AgentSession)
                                      .where(AgentSession.agent_id == agent.id))

    async def all(self) -> list[Agent]:
        async with self.db.sessions() as session:
            return list(await session.scalars(select(Agent).order_by(Agent.display_name)))

    async def get(self, agent_id: int) -> Agent | None:
        async with self.db.sessions() as session:
            return await session.get(Agent, agent_id)

    async def authenticate(self, username: str, password: str) -> Agent | None:
        async with self.db.sessions() as session:
            agent = await session.scalar(select(Agent).where(
                Agent.username == username.strip().lower()))
        stored = agent.password_hash if agent is not None and agent.active else _DUMMY_HASH
        loop = asyncio.get_running_loop()
        # scrypt takes tens of milliseconds of CPU: off the event loop.
        ok = await loop.run_in_executor(None, check_password, password, stored)
        return agent if ok and agent is not None and agent.active else None

    async def start_session(self, agent: Agent, now: datetime | None = None) -> tuple[str, str]:
        """A new session: (cookie token, csrf token)."""
        now = now or utcnow()
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        async with self.db.sessions.begin() as session:
            session.add(AgentSession(token_hash=token_hash(token), agent_id=agent.id,
                                     csrf_token=csrf, created_at=now,
                                     expires_at=now + timedelta(hours=self.session_hours)))
            await session.execute(delete(AgentSession).where(AgentSession.expires_at < now))
        return token, csrf

    async def session_of(self, token: str | None) -> tuple[Agent, AgentSession] | None:
        if not token:
            return None
        async with self.db.sessions() as session:
            row = await session.get(AgentSession, token_hash(token))
            if row is None or (aware(row.expires_at) or utcnow()) < utcnow():
                return None
            agent = await session.get(Agent, row.agent_id)
            if agent is None or not agent.active:
                return None
            return agent, row

    async def end_session(self, token: str) -> None:
        async with self.db.sessions.begin() as session:
            await session.execute(delete(AgentSession)
                                  .where(AgentSession.token_hash == token_hash(token)))

"""The service-quality record: what happened in every conversation, and survey answers.

One database (``METRICS_DB_URL``, SQLite by default, PostgreSQL in production) with two
tables, shared by the processes that write them:

* ``metric_events``: one row per thing that happened, written by the handoff service. It
  folds Rasa's event broker table (customer and assistant messages, sessions), the
  knowledge log (answers, "helped" / "did not help", unanswered questions) and its own
  queue (escalated, claimed, agent messages, resolved, abandoned, alerts) into one
  compact, durable record. ``source_key`` makes every write idempotent, so a source read
  again after a crash records nothing twice.
* ``surveys``: one row per surveyed conversation, written by the action server when the
  survey is offered and updated as the customer answers.

The metrics (``metrics.compute``) are computed from these rows only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class MetricsBase(DeclarativeBase):
    pass


# What a metric_events row can say (``kind``):
SESSION_STARTED = "session_started"    # Rasa started a conversation session
CUSTOMER_MESSAGE = "customer_message"  # intent, value = intent confidence
BOT_MESSAGE = "bot_message"            # the assistant said something
AGENT_MESSAGE = "agent_message"        # a person wrote to the customer (agent, ticket_id)
ESCALATED = "escalated"                # ticket created: reason, value 1 = in agent hours
CLAIMED = "claimed"                    # an agent took the chat (agent, ticket_id)
RESOLVED = "resolved"                  # the agent resolved and handed back (agent)
ABANDONED = "abandoned"                # the customer left the queue before a person came
PICKUP_ALERT = "pickup_alert"          # a chat waited past the target in agent hours
FAQ_ANSWERED = "faq_answered"          # article shown
FAQ_HELPED = "faq_helped"              # article
FAQ_NOT_HELPED = "faq_not_helped"      # article
FAQ_UNANSWERED = "faq_unanswered"      # text = the question, reason = outcome, value = score
RESTARTED = "restarted"                # the customer restarted the conversation
SURVEY_NUDGED = "survey_nudged"        # the quiet conversation was offered the survey
KINDS = (SESSION_STARTED, CUSTOMER_MESSAGE, BOT_MESSAGE, AGENT_MESSAGE, ESCALATED, CLAIMED,
         RESOLVED, ABANDONED, PICKUP_ALERT, FAQ_ANSWERED, FAQ_HELPED, FAQ_NOT_HELPED,
         FAQ_UNANSWERED, RESTARTED, SURVEY_NUDGED)


class MetricEvent(MetricsBase):
    __tablename__ = "metric_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_key: Mapped[str] = mapped_column(String(120), unique=True)
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    intent: Mapped[str | None] = mapped_column(String(120), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    article: Mapped[str | None] = mapped_column(String(120), nullable=True)
    agent: Mapped[str | None] = mapped_column(String(120), nullable=True)
    ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Content, kept only where a metric needs it (an unanswered question); deleted with
    # the conversation and by the retention job.
    text: Mapped[str | None] = mapped_column(Text, nullable=True)


class Survey(MetricsBase):
    """One survey per conversation session: never asked twice for the same one."""

    __tablename__ = "surveys"
    __table_args__ = (UniqueConstraint("conversation_id", "session_started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    # Start of the Rasa session surveyed (its session_started event's time).
    session_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # goodbye | thanks | agent_resolved | quiet
    trigger: Mapped[str] = mapped_column(String(32))
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    channel: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    human_involved: Mapped[bool] = mapped_column(Boolean, default=False)
    escalation_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    articles_json: Mapped[str] = mapped_column(Text, default="[]")   # FAQ articles shown
    # Every tenth survey (by id) also asks the 0-10 recommendation question.
    nps_asked: Mapped[bool] = mapped_column(Boolean, default=False)
    csat: Mapped[int | None] = mapped_column(Integer, nullable=True)     # 1-5
    nps: Mapped[int | None] = mapped_column(Integer, nullable=True)      # 0-10
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                         nullable=True)


class MetricCursor(MetricsBase):
    """How far the collector has read each source (Rasa's broker table, the knowledge log)."""

    __tablename__ = "metric_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)

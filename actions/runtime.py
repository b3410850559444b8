"""What every action shares: policy, clock, rules, the shop and the look-up guard.

rasa-sdk builds actions without arguments, so the runtime is created once, lazily, on the
first action call (never at import time); tests install their own with ``set_runtime``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from actions.calendar import ShopCalendar
from actions.clock import Clock, FixedClock, SystemClock
from actions.handoff_outbox import HandoffOutbox
from actions.handoff_status import HandoffStatusClient
from actions.knowledge_log import KnowledgeLog
from actions.lookup_guard import LookupGuard
from actions.order_rules import OrderRules
from actions.policy import Policy, load_policy
from actions.return_rules import ReturnRules
from actions.settings import ActionSettings
from actions.shop.base import ShopAdapter, load_adapter
from actions.shop.seed import seed
from actions.shop.sql import SQLShop, make_engine
from actions.support_hours import SupportHours
from actions.survey_store import SurveyStore
from actions.verification_throttle import ThrottleLimits, VerificationThrottle
from actions.warranty_rules import WarrantyRules
from knowledge.base import KnowledgeBase
from sentiment.model import SentimentModel

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    policy: Policy
    clock: Clock
    shop: ShopAdapter
    guard: LookupGuard
    settings: ActionSettings
    knowledge_log: KnowledgeLog
    # Loaded once by the action server before it binds its port (actions/server.py).
    knowledge: KnowledgeBase | None = None
    # Escalations go out through it; the server starts its sender loop.
    outbox: HandoffOutbox | None = None
    # Scores every customer message; loaded with the knowledge base, whose encoder it uses.
    sentiment: SentimentModel | None = None
    # Survey answers, in the metrics database shared with the handoff service.
    surveys: SurveyStore | None = None
    # "Where does my request for a person stand?": asks the handoff service.
    handoff_status: HandoffStatusClient | None = None
    # Failed verifications per order number and per client, across conversations.
    throttle: VerificationThrottle | None = None
    calendar: ShopCalendar = field(init=False)
    orders: OrderRules = field(init=False)
    returns: ReturnRules = field(init=False)
    warranty: WarrantyRules = field(init=False)
    hours: SupportHours = field(init=False)

    def __post_init__(self) -> None:
        self.calendar = ShopCalendar(self.policy)
        self.orders = OrderRules(self.policy, self.calendar)
        self.returns = ReturnRules(self.policy, self.calendar)
        self.warranty = WarrantyRules(self.policy, self.calendar)
        self.hours = SupportHours(self.policy, self.calendar)

    def now(self) -> datetime:
        return self.clock.now()

    def require_knowledge(self) -> KnowledgeBase:
        if self.knowledge is None:
            raise RuntimeError("the knowledge base is not loaded: start the action server with "
                               "`python -m actions.server`, which loads it at start-up")
        return self.knowledge

    def require_outbox(self) -> HandoffOutbox:
        if self.outbox is None:
            raise RuntimeError("no handoff outbox: the runtime was built without one")
        return self.outbox

    def require_handoff_status(self) -> HandoffStatusClient:
        if self.handoff_status is None:
            raise RuntimeError("no handoff status client: the runtime was built without one")
        return self.handoff_status

    def require_throttle(self) -> VerificationThrottle:
        if self.throttle is None:
            raise RuntimeError("no verification throttle: the runtime was built without one")
        return self.throttle

    def require_surveys(self) -> SurveyStore:
        if self.surveys is None:
            raise RuntimeError("no survey store: the runtime was built without one")
        return self.surveys

    async def close(self) -> None:
        if self.surveys is not None:
            await self.surveys.close()
        if self.handoff_status is not None:
            await self.handoff_status.close()
        if self.outbox is not None:
            await self.outbox.close()
        await self.shop.close()
        await self.guard.engine.dispose()
        if self.throttle is not None:
            await self.throttle.engine.dispose()
        await self.knowledge_log.engine.dispose()


async def build_runtime(settings: ActionSettings, clock: Clock | None = None,
                        knowledge: KnowledgeBase | None = None,
                        sentiment: SentimentModel | None = None) -> Runtime:
    """Load the policy, open the databases, and seed the demo shop if asked to."""
    policy = load_policy(settings.policy_file)
    if clock is None:
        clock = FixedClock(settings.fixed_now) if settings.fixed_now else SystemClock()
    shop = load_adapter(settings.shop_adapter, settings, policy)
    if isinstance(shop, SQLShop):
        await shop.create_schema()
        if settings.seed_on_start:
            await seed(shop, settings.seed_file, settings.catalog_file, clock.now())
    guard = LookupGuard(make_engine(settings.actions_db_url), policy.lookup_max_failures)
    await guard.create_schema()
    throttle = VerificationThrottle(make_engine(settings.actions_db_url), ThrottleLimits(
        order_failures=settings.lookup_order_failures,
        client_failures=settings.lookup_client_failures,
        window=settings.lookup_window, cooling=settings.lookup_cooling))
    await throttle.create_schema()
    knowledge_log = KnowledgeLog(make_engine(settings.actions_db_url))
    await knowledge_log.create_schema()
    outbox = HandoffOutbox(make_engine(settings.actions_db_url), settings.handoff_webhook_url,
                           settings.handoff_secret)
    await outbox.create_schema()
    surveys = SurveyStore(make_engine(settings.metrics_db_url))
    await surveys.create_schema()
    return Runtime(policy=policy, clock=clock, shop=shop, guard=guard, settings=settings,
                   knowledge_log=knowledge_log, knowledge=knowledge, outbox=outbox,
                   sentiment=sentiment, surveys=surveys, throttle=throttle,
                   handoff_status=HandoffStatusClient(settings.handoff_status_url,
                                                      settings.handoff_secret))


_runtime: Runtime | None = None
_lock = asyncio.Lock()


async def get_runtime() -> Runtime:
    global _runtime  # noqa: PLW0603 - rasa-sdk builds actions without arguments
    if _runtime is None:
        async with _lock:
            if _runtime is None:
                _runtime = await build_runtime(ActionSettings.from_env())
                log.info("action runtime ready (policy %s)", _runtime.settings.policy_file)
    return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    global _runtime  # noqa: PLW0603
    _runtime = runtime


def is_ready() -> bool:
    return _runtime is not None

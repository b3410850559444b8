"""What the assistant needs from a shop: one interface, plain records.

The demo shop implements it over SQL (``actions.shop.sql``); a real shop implements the
same methods over its own order system's API and names its class in ``SHOP_ADAPTER``
("package.module:ClassName"), and the action server builds it with ``from_settings``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actions.policy import Policy
    from actions.settings import ActionSettings

ORDER_STATUSES = (
    "pending_payment",
    "processing",
    "shipped",
    "out_for_delivery",
    "delivered",
    "cancelled",
    "returned",
)


@dataclass(frozen=True)
class OrderItem:
    sku: str
    name: str
    category: str
    price: float
    serial: str | None = None
    personalised: bool = False
    hygiene_seal: bool = False


@dataclass(frozen=True)
class Order:
    order_id: str
    customer: str
    email: str
    phone: str
    language: str
    status: str
    placed_at: datetime
    delivery: str | None
    carrier: str | None
    payment: str
    items: tuple[OrderItem, ...]
    tracking_number: str | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    returned_at: datetime | None = None
    last_tracking_event_at: datetime | None = None
    orbita_care_years: int = 0
    shipping_address: str | None = None

    def item(self, sku: str) -> OrderItem | None:
        return next((item for item in self.items if item.sku == sku), None)

    @property
    def total(self) -> float:
        return round(sum(item.price for item in self.items), 2)


@dataclass(frozen=True)
class ReturnRecord:
    rma: str
    order_id: str
    sku: str
    reason: str
    fee: float
    status: str
    created_at: datetime
    drop_off_by: datetime | None = None


@dataclass(frozen=True)
class WarrantyClaim:
    claim_id: str
    order_id: str
    sku: str
    serial: str
    fault: str
    kind: str  # "repair" or "doa_exchange"
    status: str
    created_at: datetime


@dataclass(frozen=True)
class AddressChange:
    request_id: int
    order_id: str
    new_address: str
    status: str
    created_at: datetime


@dataclass
class OrderHistory:
    """Returns and claims already filed for one order."""

    returns: list[ReturnRecord] = field(default_factory=list)
    claims: list[WarrantyClaim] = field(default_factory=list)

    def return_for(self, sku: str) -> ReturnRecord | None:
        return next((r for r in self.returns if r.sku == sku and r.status != "cancelled"), None)

    def open_claim_for(self, sku: str) -> WarrantyClaim | None:
        return next((c for c in self.claims if c.sku == sku and c.status == "open"), None)


class ShopError(RuntimeError):
    """The shop refused or failed an operation; the message is for the log, not the customer."""


class ShopAdapter(abc.ABC):
    """Everything the actions ask of a shop's order system."""

    @classmethod
    @abc.abstractmethod
    def from_settings(cls, settings: ActionSettings, policy: Policy) -> ShopAdapter:
        """Build the adapter from the action server's settings (URLs, credentials)."""

    @abc.abstractmethod
    async def find_order(self, order_id: str) -> Order | None:
        """The order with this number, or None. Callers must verify before disclosing."""

    async def verify_order(self, order_id: str, contact: str) -> Order | None:
        """The order only if ``contact`` is its e-mail address or phone number."""
        from actions.verification import contact_matches  # noqa: PLC0415 - avoid a cycle

        order = await self.find_order(order_id)
        if order is None or not contact_matches(contact, order.email, order.phone):
            return None
        return order

    @abc.abstractmethod
    async def history(self, order_id: str) -> OrderHistory:
        """Returns and warranty claims filed for the order."""

    @abc.abstractmethod
    async def cancel_order(self, order_id: str, now: datetime) -> Order:
        """Cancel the order; raise ShopError if its status no longer allows it."""

    @abc.abstractmethod
    async def request_address_change(
        self, order_id: str, new_address: str, now: datetime
    ) -> AddressChange:
        """Record a request to deliver the order to ``new_address``."""

    @abc.abstractmethod
    async def create_return(
        self, order_id: str, sku: str, reason: str, fee: float, now: datetime,
        drop_off_by: datetime,
    ) -> ReturnRecord:
        """Register a return and issue its RMA number."""

    @abc.abstractmethod
    async def create_warranty_claim(
        self, order_id: str, sku: str, serial: str, fault: str, kind: str, now: datetime
    ) -> WarrantyClaim:
        """Register a warranty claim and issue its WAR number."""

    @abc.abstractmethod
    async def get_return(self, rma: str) -> ReturnRecord | None:
        """A return by its RMA number."""

    @abc.abstractmethod
    async def get_warranty_claim(self, claim_id: str) -> WarrantyClaim | None:
        """A warranty claim by its WAR number."""

    async def close(self) -> None:
        """Release connections."""


def load_adapter(path: str, settings: ActionSettings, policy: Policy) -> ShopAdapter:
    """The adapter class named "package.module:ClassName", built from the settings."""
    import importlib  # noqa: PLC0415 - only needed once, at start-up

    module_name, _, class_name = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ShopError(f"SHOP_ADAPTER={path!r} cannot be loaded: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, ShopAdapter)):
        raise ShopError(f"SHOP_ADAPTER={path!r} is not a ShopAdapter subclass")
    return cls.from_settings(settings, policy)

"""The demo shop: a real SQL database behind the ShopAdapter interface."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import joinedload, selectinload

from actions.policy import Policy
from actions.settings import ActionSettings
from actions.shop.base import (
    AddressChange,
    Order,
    OrderHistory,
    OrderItem,
    ReturnRecord,
    ShopAdapter,
    ShopError,
    WarrantyClaim,
)
from actions.shop.tables import (
    AddressChangeRow,
    Base,
    OrderRow,
    ReturnRow,
    WarrantyClaimRow,
)

NUMBER_ATTEMPTS = 20
RowT = TypeVar("RowT", ReturnRow, WarrantyClaimRow)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _order(row: OrderRow) -> Order:
    return Order(
        order_id=row.order_id,
        customer=row.customer,
        email=row.email,
        phone=row.phone,
        language=row.language,
        status=row.status,
        placed_at=_aware(row.placed_at),  # type: ignore[arg-type]
        delivery=row.delivery,
        carrier=row.carrier,
        payment=row.payment,
        items=tuple(
            OrderItem(
                sku=i.sku, name=i.name, category=i.category, price=i.price, serial=i.serial,
                personalised=i.personalised, hygiene_seal=i.hygiene_seal,
            )
            for i in row.items
        ),
        tracking_number=row.tracking_number,
        shipped_at=_aware(row.shipped_at),
        delivered_at=_aware(row.delivered_at),
        cancelled_at=_aware(row.cancelled_at),
        returned_at=_aware(row.returned_at),
        last_tracking_event_at=_aware(row.last_tracking_event_at),
        orbita_care_years=row.orbita_care_years or 0,
        shipping_address=row.shipping_address,
    )


def _return(row: ReturnRow) -> ReturnRecord:
    return ReturnRecord(
        rma=row.rma, order_id=row.order_id, sku=row.sku, reason=row.reason, fee=row.fee,
        status=row.status, created_at=_aware(row.created_at),  # type: ignore[arg-type]
        drop_off_by=_aware(row.drop_off_by),
    )


def _claim(row: WarrantyClaimRow) -> WarrantyClaim:
    return WarrantyClaim(
        claim_id=row.claim_id, order_id=row.order_id, sku=row.sku, serial=row.serial,
        fault=row.fault, kind=row.kind, status=row.status,
        created_at=_aware(row.created_at),  # type: ignore[arg-type]
    )


def make_engine(url: str) -> AsyncEngine:
    return create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"))


class SQLShop(ShopAdapter):
    """Orders, returns, claims and address changes in any SQLAlchemy async database."""

    @classmethod
    def from_settings(cls, settings: ActionSettings, policy: Policy) -> SQLShop:
        return cls(make_engine(settings.shop_db_url), policy)

    def __init__(self, engine: AsyncEngine, policy: Policy) -> None:
        self.engine = engine
        self.policy = policy
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def create_schema(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)

    async def find_order(self, order_id: str) -> Order | None:
        async with self.sessions() as session:
            row = await session.scalar(
                select(OrderRow).options(selectinload(OrderRow.items))
                .where(OrderRow.order_id == order_id)
            )
            return _order(row) if row else None

    async def verify_order(self, order_id: str, contact: str) -> Order | None:
        """One query (the order joined with its items) and one comparison whether or not
        the order exists: a made-up number takes as long to refuse as a real one."""
        from actions.verification import contact_matches  # noqa: PLC0415 - avoid a cycle

        async with self.sessions() as session:
            row = (await session.execute(
                select(OrderRow).options(joinedload(OrderRow.items))
                .where(OrderRow.order_id == order_id))).unique().scalar_one_or_none()
            order = _order(row) if row else None
        matched = contact_matches(contact, order.email if order else "",
                                  order.phone if order else "")
        return order if order is not None and matched else None

    async def history(self, order_id: str) -> OrderHistory:
        async with self.sessions() as session:
            returns = await session.scalars(
                select(ReturnRow).where(ReturnRow.order_id == order_id)
                .order_by(ReturnRow.created_at)
            )
            claims = await session.scalars(
                select(WarrantyClaimRow).where(WarrantyClaimRow.order_id == order_id)
                .order_by(WarrantyClaimRow.created_at)
            )
            return OrderHistory([_return(r) for r in returns], [_claim(c) for c in claims])

    async def cancel_order(self, order_id: str, now: datetime) -> Order:
        async with self.sessions.begin() as session:
            row = await session.scalar(
                select(OrderRow).options(selectinload(OrderRow.items))
                .where(OrderRow.order_id == order_id).with_for_update()
            )
            if row is None:
                raise ShopError(f"order {order_id} not found")
            if row.status not in self.policy.cancellable_statuses:
                raise ShopError(f"order {order_id} is {row.status}, not cancellable")
            row.status = "cancelled"
            row.cancelled_at = now
            return _order(row)

    async def request_address_change(
        self, order_id: str, new_address: str, now: datetime
    ) -> AddressChange:
        async with self.sessions.begin() as session:
            row = await session.get(OrderRow, order_id)
            if row is None:
                raise ShopError(f"order {order_id} not found")
            if row.status not in self.policy.address_changeable_statuses:
                raise ShopError(f"order {order_id} is {row.status}, address is fixed")
            change = AddressChangeRow(
                order_id=order_id, new_address=new_address, status="requested", created_at=now
            )
            session.add(change)
            await session.flush()
            return AddressChange(change.id, order_id, new_address, change.status, now)

    async def _insert_numbered(self, make_row: Callable[[str], RowT], prefix: str,
                               digits: int) -> RowT:
        """Insert a row under a fresh random number, retrying on the rare collision."""
        for _ in range(NUMBER_ATTEMPTS):
            number = f"{prefix}{secrets.randbelow(10**digits):0{digits}d}"
            try:
                async with self.sessions.begin() as session:
                    row = make_row(number)
                    session.add(row)
                return row
            except IntegrityError:
                continue
        raise ShopError(f"could not allocate a unique {prefix} number")

    async def create_return(
        self, order_id: str, sku: str, reason: str, fee: float, now: datetime,
        drop_off_by: datetime,
    ) -> ReturnRecord:
        row = await self._insert_numbered(
            lambda rma: ReturnRow(
                rma=rma, order_id=order_id, sku=sku, reason=reason, fee=fee,
                status="awaiting_drop_off", created_at=now, drop_off_by=drop_off_by,
            ),
            self.policy.rma_prefix, self.policy.rma_digits,
        )
        return _return(row)

    async def create_warranty_claim(
        self, order_id: str, sku: str, serial: str, fault: str, kind: str, now: datetime
    ) -> WarrantyClaim:
        row = await self._insert_numbered(
            lambda claim_id: WarrantyClaimRow(
                claim_id=claim_id, order_id=order_id, sku=sku, serial=serial, fault=fault,
                kind=kind, status="open", created_at=now,
            ),
            self.policy.claim_prefix, self.policy.claim_digits,
        )
        return _claim(row)

    async def get_return(self, rma: str) -> ReturnRecord | None:
        async with self.sessions() as session:
            row = await session.get(ReturnRow, rma)
            return _return(row) if row else None

    async def get_warranty_claim(self, claim_id: str) -> WarrantyClaim | None:
        async with self.sessions() as session:
            row = await session.get(WarrantyClaimRow, claim_id)
            return _claim(row) if row else None

    async def close(self) -> None:
        await self.engine.dispose()

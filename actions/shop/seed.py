"""Seed the demo shop's database from ``demo_shop/orders.json``.

Dates in the file are given as ``*_days_ago``; seeding turns them into moments that many
days before the seeding moment, so return windows and warranty periods stay what
the demo data means. Seeding is idempotent: orders already in the database are left as
they are (with everything customers did to them), unless ``reset`` is asked for.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, select

from actions.shop.sql import SQLShop
from actions.shop.tables import (
    AddressChangeRow,
    OrderItemRow,
    OrderRow,
    ReturnRow,
    WarrantyClaimRow,
)

log = logging.getLogger(__name__)

_DATE_FIELDS = {
    "placed_days_ago": "placed_at",
    "shipped_days_ago": "shipped_at",
    "delivered_days_ago": "delivered_at",
    "cancelled_days_ago": "cancelled_at",
    "returned_days_ago": "returned_at",
    "last_tracking_event_days_ago": "last_tracking_event_at",
}


class SeedError(ValueError):
    """The seed file is malformed; the message names the order and field."""


@dataclass(frozen=True)
class SeedResult:
    inserted: int
    kept: int


def _moment(days_ago: Any, now: datetime, where: str) -> datetime:
    if not isinstance(days_ago, int) or isinstance(days_ago, bool) or days_ago < 0:
        raise SeedError(f"{where} must be a whole number of days >= 0, got {days_ago!r}")
    return now - timedelta(days=days_ago)


def build_order(raw: dict[str, Any], catalog: dict[str, Any], now: datetime) -> OrderRow:
    order_id = raw.get("order_id")
    if not order_id:
        raise SeedError(f"an order without order_id: {raw!r:.80}")
    try:
        dates = {
            column: _moment(raw[key], now, f"{order_id}.{key}")
            for key, column in _DATE_FIELDS.items()
            if key in raw
        }
        products = catalog.get("products") or {}
        items = [
            OrderItemRow(
                position=position,
                sku=item["sku"],
                name=item["name"],
                category=item["category"],
                price=float(item["price"]),
                serial=item.get("serial"),
                personalised=bool(item.get("personalised", False)),
                hygiene_seal=bool((products.get(item["sku"]) or {}).get("hygiene_seal", False)),
            )
            for position, item in enumerate(raw["items"])
        ]
        return OrderRow(
            order_id=order_id,
            customer=raw["customer"],
            email=raw["email"],
            phone=raw["phone"],
            language=raw.get("language", "en"),
            status=raw["status"],
            delivery=raw.get("delivery"),
            carrier=raw.get("carrier"),
            tracking_number=raw.get("tracking_number"),
            payment=raw["payment"],
            orbita_care_years=int(raw.get("orbita_care_years", 0)),
            shipping_address=raw.get("shipping_address"),
            items=items,
            **dates,
        )
    except KeyError as exc:
        raise SeedError(f"order {order_id} lacks the field {exc.args[0]!r}") from exc


def load_seed(orders_path: Path, catalog_path: Path | None) -> tuple[list[dict], dict]:
    try:
        orders = json.loads(orders_path.read_text(encoding="utf-8"))["orders"]
    except (OSError, ValueError, KeyError) as exc:
        raise SeedError(f"cannot read orders from {orders_path}: {exc}") from exc
    catalog: dict[str, Any] = {}
    if catalog_path is not None and catalog_path.exists():
        catalog = yaml.safe_load(catalog_path.read_text(encoding="utf-8")) or {}
    return orders, catalog


async def seed(shop: SQLShop, orders_path: Path, catalog_path: Path | None, now: datetime,
               reset: bool = False) -> SeedResult:
    """Insert the demo orders that are not in the database yet."""
    orders, catalog = load_seed(orders_path, catalog_path)
    rows = [build_order(raw, catalog, now) for raw in orders]
    await shop.create_schema()
    async with shop.sessions.begin() as session:
        if reset:
            for table in (ReturnRow, WarrantyClaimRow, AddressChangeRow, OrderItemRow, OrderRow):
                await session.execute(delete(table))
        existing = set(await session.scalars(select(OrderRow.order_id)))
        inserted = 0
        for raw, row in zip(orders, rows, strict=True):
            if row.order_id in existing:
                continue
            session.add(row)
            inserted += 1
            if raw.get("rma") and row.returned_at is not None:
                # The order's items went back under this RMA before the demo starts.
                for item in row.items:
                    session.add(ReturnRow(
                        rma=raw["rma"] if item.position == 0 else f"{raw['rma']}-{item.position}",
                        order_id=row.order_id, sku=item.sku, reason="other", fee=0.0,
                        status="refunded", created_at=row.returned_at, drop_off_by=None,
                    ))
    log.info("demo shop seeded: %d orders inserted, %d kept", inserted, len(existing))
    return SeedResult(inserted=inserted, kept=len(existing))

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actions.runtime import Runtime
from actions.shop.seed import SeedError, seed
from actions.shop.sql import SQLShop


async def test_seeding_is_idempotent_and_keeps_what_customers_did(runtime: Runtime) -> None:
    shop = runtime.shop
    assert isinstance(shop, SQLShop)
    await shop.cancel_order("ORB-104402", runtime.now())
    settings = runtime.settings
    result = await seed(shop, settings.seed_file, settings.catalog_file, runtime.now())
    assert (result.inserted, result.kept) == (0, 14)
    order = await shop.find_order("ORB-104402")
    assert order is not None and order.status == "cancelled"
    result = await seed(shop, settings.seed_file, settings.catalog_file, runtime.now(),
                        reset=True)
    assert result.inserted == 14
    order = await shop.find_order("ORB-104402")
    assert order is not None and order.status == "processing"


async def test_the_returned_demo_order_has_its_rma(runtime: Runtime) -> None:
    history = await runtime.shop.history("ORB-103200")
    assert [r.rma for r in history.returns] == ["RMA-200311"]


async def test_hygiene_seal_comes_from_the_catalogue(runtime: Runtime) -> None:
    order = await runtime.shop.find_order("ORB-104420")
    assert order is not None
    assert {i.sku: i.hygiene_seal for i in order.items} == {"HP-BUDS-2": True, "GC-50": False}


async def test_bad_seed_data_is_named(runtime: Runtime, tmp_path: Path) -> None:
    bad = tmp_path / "orders.json"
    bad.write_text(json.dumps({"orders": [{"order_id": "ORB-1", "placed_days_ago": -2}]}))
    with pytest.raises(SeedError, match="ORB-1"):
        await seed(runtime.shop, bad, None, runtime.now())  # type: ignore[arg-type]
    bad.write_text("{")
    with pytest.raises(SeedError, match="cannot read"):
        await seed(runtime.shop, bad, None, runtime.now())  # type: ignore[arg-type]

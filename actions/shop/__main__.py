"""``python -m actions.shop seed [--reset]``: fill the demo shop's database."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from actions.clock import SystemClock
from actions.policy import PolicyError, load_policy
from actions.settings import ActionSettings
from actions.shop.seed import SeedError, seed
from actions.shop.sql import SQLShop


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m actions.shop")
    sub = parser.add_subparsers(dest="command", required=True)
    seed_cmd = sub.add_parser("seed", help="insert the demo orders that are missing")
    seed_cmd.add_argument("--reset", action="store_true",
                          help="delete all orders, returns and claims first")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[shop] %(message)s")
    settings = ActionSettings.from_env()
    settings.seed_file.parent.mkdir(exist_ok=True)
    try:
        shop = SQLShop.from_settings(settings, load_policy(settings.policy_file))
        result = await seed(shop, settings.seed_file, settings.catalog_file,
                            SystemClock().now(), reset=args.reset)
        await shop.close()
    except (PolicyError, SeedError) as exc:
        print(f"[shop] error: {exc}", file=sys.stderr)
        return 2
    print(f"[shop] {result.inserted} orders inserted, {result.kept} already there")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

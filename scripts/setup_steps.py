"""Set-up steps that need the services environment: prepare var/ and seed the demo shop.

Run by scripts/setup.py after the environments exist; safe to run again (idempotent).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.shop.__main__ import main as shop_main

if __name__ == "__main__":
    sys.exit(asyncio.run(shop_main(["seed"])))

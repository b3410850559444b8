"""Set-up steps that need the services environment: the embedding model, the knowledge
index, the sentiment classifier, and the demo shop's database.

Run by scripts/setup.py after the environments exist; safe to run again (idempotent).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.shop.__main__ import main as shop_main
from knowledge.__main__ import main as knowledge_main
from sentiment.__main__ import main as sentiment_main


def main() -> int:
    for step in (["model"], ["build"]):
        code = knowledge_main(step)
        if code:
            return code
    code = sentiment_main(["train"])
    if code:
        return code
    return asyncio.run(shop_main(["seed"]))


if __name__ == "__main__":
    sys.exit(main())

"""Create the shared databases' tables once, before N processes start (the scaled stack).

Every Rasa process creates the tracker store's and the event broker's tables when it
starts, and every action server its own tables and the demo shop's, each with
``CREATE TABLE`` after a check. Started together on one PostgreSQL they race: one of
them fails with a duplicate ``pg_type`` row (Rasa's tracker store then sleeps 5 s and
tries again). So the launcher runs this first, once per environment:

* ``.venv-rasa/bin/python -m bot.scaled_tables rasa <endpoints file>``: the tables of
  Rasa's SQL tracker store and SQL event broker, from Rasa's own definitions, in the
  databases the endpoints file names (and its Redis lock store answers);
* ``.venv-services/bin/python -m bot.scaled_tables actions``: the action server's runtime
  is built once (its tables, the survey table, the demo shop's tables and the seed),
  then closed; the action servers then start with ``SHOP_SEED_ON_START=false``.

Both read the same environment the processes get (``bot.scaled.scaled_env``).
"""

from __future__ import annotations

import asyncio
import sys


async def rasa_tables(endpoints_file: str) -> None:
    """The tables of the tracker store and of the event broker in ``endpoints_file``,
    and a PING to its Redis lock store.

    Rasa's own table definitions and URL building, without building the stores: the
    project's tracker store loads TensorFlow when it is built (rasa_plugins/trackers.py), which
    would add seconds to every start.
    """
    import redis  # noqa: PLC0415 - only in .venv-rasa
    from rasa.core.brokers.sql import SQLEventBroker  # noqa: PLC0415
    from rasa.core.tracker_store import SQLTrackerStore  # noqa: PLC0415
    from rasa.utils.endpoints import read_endpoint_config  # noqa: PLC0415
    from sqlalchemy import create_engine  # noqa: PLC0415

    for section, base in (("tracker_store", SQLTrackerStore.Base),
                          ("event_broker", SQLEventBroker.Base)):
        config = read_endpoint_config(endpoints_file, section)
        if config is None:
            raise SystemExit(f"{endpoints_file} has no {section}")
        options = config.kwargs
        url = SQLTrackerStore.get_db_url(
            options.get("dialect", "sqlite"), config.url, options.get("port"),
            options.get("db", "rasa.db"), options.get("username"), options.get("password"))
        engine = create_engine(url)
        try:
            base.metadata.create_all(engine)
        finally:
            engine.dispose()
    locks = read_endpoint_config(endpoints_file, "lock_store")
    if locks is not None and locks.url:
        redis.Redis(host=locks.url, port=int(locks.kwargs.get("port", 6379)),
                    db=int(locks.kwargs.get("db", 1)),
                    password=locks.kwargs.get("password") or None).ping()


async def action_tables() -> None:
    """The action server's runtime, built once: its tables, and the demo shop seeded."""
    from actions.runtime import build_runtime  # noqa: PLC0415 - only in .venv-services
    from actions.settings import ActionSettings  # noqa: PLC0415

    runtime = await build_runtime(ActionSettings.from_env())
    await runtime.close()


def main(argv: list[str]) -> int:
    if argv[:1] == ["rasa"] and len(argv) == 2:
        asyncio.run(rasa_tables(argv[1]))
    elif argv == ["actions"]:
        asyncio.run(action_tables())
    else:
        print("usage: python -m bot.scaled_tables rasa <endpoints file> | actions",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The action server: rasa-sdk's app, plus the runtime built before the first request.

Building the runtime at start-up means a broken policy file or an unreachable shop
database stops the server with a clear message instead of failing the first customer.
Run with ``python -m actions.server --port 5055``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from rasa_sdk.endpoint import create_app
from sanic import Sanic

from actions import runtime
from actions.policy import PolicyError, load_policy
from actions.settings import ActionSettings
from actions.shop.base import ShopError
from actions.shop.seed import SeedError
from knowledge.base import KnowledgeBase
from knowledge.embedder import ModelMissingError
from knowledge.index import KnowledgeIndexError
from knowledge.settings import KnowledgeSettings
from sentiment.model import SentimentModel, SentimentModelError

log = logging.getLogger("actions.server")


def build_app(settings: ActionSettings, knowledge: KnowledgeBase | None,
              sentiment: SentimentModel | None = None) -> Sanic:
    app = create_app("actions", cors_origins=[])

    @app.listener("before_server_start")
    async def start_runtime(app: Sanic, _loop: object) -> None:
        built = await runtime.build_runtime(settings, knowledge=knowledge, sentiment=sentiment)
        runtime.set_runtime(built)
        built.require_outbox().start()  # sends escalations left over from before, too
        log.info("action runtime ready: policy %s, shop %s", settings.policy_file,
                 settings.shop_db_url.split("@")[-1])

    @app.listener("after_server_stop")
    async def stop_runtime(app: Sanic, _loop: object) -> None:
        current = await runtime.get_runtime() if runtime.is_ready() else None
        if current is not None:
            await current.close()
            if current.knowledge is not None:
                current.knowledge.close()
        runtime.set_runtime(None)

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the assistant's action server.")
    parser.add_argument("--host", default=os.environ.get("ACTIONS_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("ACTIONS_PORT", "5055")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = ActionSettings.from_env()
    except ValueError as exc:
        log.error("cannot start: %s", exc)
        return 2
    if not settings.handoff_secret:
        log.error("cannot start: HANDOFF_WEBHOOK_SECRET is not set; escalations to people "
                  "are signed with it (the handoff service needs the same value)")
        return 2
    try:
        # Fail before binding the port if the settings cannot work; the knowledge base
        # (model and index) and the sentiment classifier load once, here, never per request.
        load_policy(settings.policy_file)
        knowledge = KnowledgeBase.load(KnowledgeSettings.from_env())
        sentiment = SentimentModel.load(settings.sentiment_model_file)
        if sentiment.model_id != knowledge.retriever.embedder.model_id:
            raise SentimentModelError(
                f"the sentiment classifier was trained on {sentiment.model_id}, the knowledge "
                f"base uses {knowledge.retriever.embedder.model_id}: run "
                "`python -m sentiment train`")
    except (PolicyError, ModelMissingError, KnowledgeIndexError, SentimentModelError,
            ValueError) as exc:
        log.error("cannot start: %s", exc)
        return 2
    app = build_app(settings, knowledge, sentiment)
    try:
        app.run(host=args.host, port=args.port, workers=1, access_log=False,
                motd=False)
    except (SeedError, PolicyError, ShopError) as exc:
        log.error("cannot start: %s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

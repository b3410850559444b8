"""Where a request stands: the handoff service's answer (a real signed HTTP server here)
and returns and warranty claims from the demo shop, through the order form."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff_status import HandoffStatusClient
from actions.runtime import Runtime
from actions.settings import ActionSettings, status_url_of
from actions.status import ActionRequestStatus
from tests.actions.form_driver import FormDriver, kwargs_of
from tests.factories import status_webhook

DOMAIN = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text())
SECRET = "status-test-secret"  # noqa: S105 - a test server's own secret
STATES: dict[str, dict[str, Any]] = {
    "c-none": {"state": "none"},
    "c-queued": {"state": "queued", "position": 2, "minutes": 6},
    "c-queued-unknown": {"state": "queued", "position": None, "minutes": None},
    "c-agent": {"state": "with_agent", "agent_name": "Anna"},
    "c-closed": {"state": "outside_hours", "agents_back_text": "Monday at 09:00"},
    "c-broken": {"state": "sleeping"},
}


@pytest.fixture
async def handoff_url() -> AsyncIterator[str]:
    """The handoff service's /webhooks/status as a test server, checking the signature."""
    async with status_webhook(SECRET, STATES) as url:
        yield url


async def ask(runtime: Runtime, sender: str, language: str = "en") -> list[dict[str, Any]]:
    slots = {name: spec.get("initial_value") for name, spec in DOMAIN["slots"].items()}
    slots["language"] = language
    track = Tracker(sender_id=sender, slots=slots,
                    latest_message={"text": "am i still in the queue?",
                                    "intent": {"name": "request_status", "confidence": 0.9}},
                    events=[], paused=False, followup_action=None, active_loop={},
                    latest_action_name="action_listen")
    dispatcher = CollectingDispatcher()
    assert await ActionRequestStatus().run(dispatcher, track, DOMAIN) == []
    return dispatcher.messages


@pytest.fixture
async def status_runtime(runtime: Runtime, handoff_url: str) -> AsyncIterator[Runtime]:
    await runtime.require_handoff_status().close()
    runtime.handoff_status = HandoffStatusClient(handoff_url, SECRET)
    yield runtime


@pytest.mark.parametrize(("sender", "response", "values"), [
    ("c-none", "utter_request_status_none", {}),
    ("c-queued", "utter_request_status_queued", {"position": 2, "minutes": 6}),
    ("c-queued-unknown", "utter_request_status_queued_no_estimate", {}),
    ("c-agent", "utter_request_status_with_agent", {"agent_name": "Anna"}),
    ("c-closed", "utter_request_status_outside_hours", {"agents_back": "Monday at 09:00"}),
    ("c-broken", "utter_request_status_unknown", {}),
])
async def test_the_handoff_service_says_where_the_request_stands(
        status_runtime: Runtime, sender: str, response: str, values: dict[str, Any]) -> None:
    [message] = await ask(status_runtime, sender)
    assert message["response"] == response
    assert {k: message[k] for k in values} == values


async def test_a_wrong_secret_or_no_service_is_said_politely(runtime: Runtime,
                                                             handoff_url: str) -> None:
    await runtime.require_handoff_status().close()
    runtime.handoff_status = HandoffStatusClient(handoff_url, "not-the-secret")
    [message] = await ask(runtime, "c-queued")
    assert message["response"] == "utter_request_status_unknown"
    await runtime.handoff_status.close()
    runtime.handoff_status = HandoffStatusClient("http://127.0.0.1:9/webhooks/status", SECRET,
                                                 timeout=1.0)
    [message] = await ask(runtime, "c-queued", "uk")
    assert message["response"] == "utter_request_status_unknown"


def test_the_status_url_sits_next_to_the_escalation_webhook() -> None:
    settings = ActionSettings.from_env({"HANDOFF_WEBHOOK_URL":
                                        "https://help.example.com:8443/webhooks/escalations"})
    assert settings.handoff_status_url == "https://help.example.com:8443/webhooks/status"
    assert status_url_of("http://127.0.0.1:5056/webhooks/escalations") == \
        "http://127.0.0.1:5056/webhooks/status"
    assert ActionSettings.from_env({"HANDOFF_STATUS_URL": "http://x/s"}).handoff_status_url == \
        "http://x/s"
    assert ActionSettings.from_env({}).metrics_db_url.endswith("/var/metrics.db")


async def test_a_return_status_verifies_the_order_first(runtime: Runtime) -> None:
    driver = FormDriver(sender="status-refunded")
    turn = await driver.say("what's happening with my return?", "case_status")
    assert driver.slots["job"] == "status" and turn.responses == ["utter_ask_order_id"]
    await driver.say("ORB-103200")
    turn = await driver.say("mark.evans@example.co.uk")
    assert turn.responses == ["utter_verified", "utter_case_status_return_refunded",
                              "utter_anything_else"]
    told = kwargs_of(turn, "utter_case_status_return_refunded")
    assert told["rma"] == "RMA-200311" and told["item"] == "Home Cam 2 security camera"


async def test_open_returns_and_claims_of_an_order_verified_earlier(runtime: Runtime) -> None:
    now = runtime.now()
    order = "ORB-104444"
    found = await runtime.shop.find_order(order)
    assert found is not None
    first, second = found.items[0], found.items[-1]
    await runtime.shop.create_return(order, first.sku, "changed_mind", 4.95, now,
                                     now + timedelta(days=14))
    await runtime.shop.create_warranty_claim(order, second.sku, second.serial or "X", "dead",
                                             "repair", now)
    driver = FormDriver(sender="status-open", language="uk")
    driver.slots["verified_order_id"] = order
    turn = await driver.say("що з моїм поверненням?", "case_status")
    assert turn.responses == ["utter_case_status_return_awaiting_drop_off",
                              "utter_case_status_claim_open", "utter_anything_else"]
    told = kwargs_of(turn, "utter_case_status_return_awaiting_drop_off")
    assert told["rma"].startswith("RMA-") and "2026" in told["drop_off_by"]
    assert kwargs_of(turn, "utter_case_status_claim_open")["claim_id"].startswith("WAR-")


async def test_an_order_without_returns_or_claims(runtime: Runtime) -> None:
    driver = FormDriver(sender="status-none")
    driver.slots["verified_order_id"] = "ORB-104388"
    turn = await driver.say("any news about my warranty claim?", "case_status")
    assert turn.responses == ["utter_case_status_none", "utter_anything_else"]

"""A person's chat outlives the session expiry with two Rasa processes (``make run-scaled``:
PostgreSQL tracker store, Redis lock store, two action servers behind nginx, one handoff
service), with ``SESSION_EXPIRATION_MINUTES`` set to seconds on every process.

The customer escalates on one Rasa process; the new session after the expiry starts on
the other, which runs ``action_session_start`` through the balancer on either action
server: it is kept paused, the agent reads the message and answers, and the hand-back
brings the assistant back on the first process.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from bot import processes as p
from contract.session_marker import continues_handoff
from tests.e2e.conftest import Assistant, Console, customer_texts, new_sender, wait_for
from tests.e2e.test_scaled import Scaled, two_of_each_stack

pytestmark = pytest.mark.e2e

EXPIRY_SECONDS = 6.0


@pytest.fixture(scope="module")
def scaled_short(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scaled]:
    with two_of_each_stack(tmp_path_factory.mktemp("scaled-short"),
                           SESSION_EXPIRATION_MINUTES=str(EXPIRY_SECONDS / 60)) as stack:
        yield stack


def console(s: Scaled) -> Console:
    """An agent made with the real CLI, logged in to the one handoff service."""
    username, password = f"sam-{uuid.uuid4().hex[:6]}", f"pw-{uuid.uuid4().hex}"
    result = subprocess.run(
        [str(p.services_python()), "-m", "bot", "agent", "add", username, "--name", "Sam",
         "--password-stdin"], input=password + "\n", text=True, capture_output=True,
        env=s.stack.env, cwd=p.ROOT, check=False)
    assert result.returncode == 0, result.stderr
    agent = Console(s.stack.layout.handoff_url)
    agent.login(username, password)
    return agent


def test_two_processes_keep_the_chat_with_its_agent(scaled_short: Scaled) -> None:
    s = scaled_short
    agent = console(s)
    # The REST message feed of either process (the shared tracker store).
    first = Assistant(s.rasa_url(0), s.stack.token, s.stack.folder)
    sender = new_sender("exp-scaled")
    assert "passing you to a person" in " ".join(
        r.get("text", "") for r in s.send(0, sender, "I want to talk to a person"))
    ticket = agent.ticket_of(sender)
    assert agent.act(ticket["id"], "claim")[0] == 200
    first.wait_pushed(sender, lambda m: "has joined the chat" in m["text"])
    before = [e for e in s.tracker(0, sender)["events"] if e["event"] == "session_started"]

    time.sleep(EXPIRY_SECONDS + 2.5)
    assert s.send(1, sender, "back again, any news?") == []  # the other process: quiet
    tracker = s.tracker(0, sender)
    starts = [e for e in tracker["events"] if e["event"] == "session_started"]
    assert len(starts) == len(before) + 1 and continues_handoff(starts[-1])
    assert tracker["paused"] is True
    wait_for(lambda: "back again, any news?" in customer_texts(agent, ticket["id"]),
             what="the message in the agent's transcript")
    assert agent.ticket(ticket["id"])["ticket"]["status"] == "assigned"

    assert agent.act(ticket["id"], "messages", {"text": "Yes: it arrives tomorrow."})[0] == 201
    first.wait_pushed(sender, lambda m: m["text"] == "Yes: it arrives tomorrow.")
    assert agent.act(ticket["id"], "resolve")[0] == 200
    first.wait_pushed(sender, lambda m: "handed you back" in m["text"])
    wait_for(lambda: s.tracker(1, sender)["paused"] is False, what="the hand-back in Rasa")
    assert s.send(0, sender, "where is my order?")

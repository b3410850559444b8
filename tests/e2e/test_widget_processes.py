"""The widget with two Rasa processes behind one address, sharing Redis (SOCKETIO_REDIS_URL).

Both processes share the session stack's tracker store, action server and event broker,
as replicas behind a load balancer do. A visitor's tabs land on different processes, and
a message that one process sends (a reply, an agent's message through the HTTP API) must
reach the sockets held by the other.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot import processes
from tests import servers
from tests.e2e.conftest import Assistant
from tests.e2e.widget_socket import Visitor

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def replicas(assistant: Assistant) -> Iterator[list[str]]:
    """Base URLs of two more Rasa processes that share Redis for socket.io."""
    assert assistant.stack is not None
    redis = servers.start_redis()
    env = {key: value for key, value in assistant.stack.env.items()
           if not key.startswith("TELEGRAM_")}  # Telegram stays with the session's Rasa
    env["SOCKETIO_REDIS_URL"] = redis.url
    model = processes.newest_model()
    ports = [processes.free_port(), processes.free_port()]
    started: list[processes.Managed] = []
    try:
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(processes.start_rasa, port, model, assistant.token, env,
                                   None) for port in ports]
            for future in futures:
                started.append(future.result())
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for rasa in started:
            rasa.stop()
        redis.stop()


def append_agent_message(base_url: str, token: str, conversation: str, text: str) -> None:
    """What the handoff service does for an agent's reply, sent to one particular process."""
    events = [{"event": "bot", "text": text,
               "metadata": {"from": "agent", "agent_name": "Olga"}}]
    request = urllib.request.Request(
        f"{base_url}/conversations/{conversation}/tracker/events?token={token}"
        "&output_channel=widget&execute_side_effects=true",
        data=json.dumps(events).encode(), headers={"Content-Type": "application/json"},
        method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


async def test_messages_reach_the_tabs_on_the_other_process(assistant: Assistant,
                                                            replicas: list[str]) -> None:
    first = Visitor(replicas[0])
    await first.open()
    second = Visitor(replicas[1])
    await second.open(token=first.token)  # a token from one process works on the other
    assert not second.confirm["fresh"]

    answer = await first.turn("hi")
    assert answer
    await second.wait_bot(lambda m: m["id"] == answer[0]["id"], timeout=15)
    assert [e["text"] for e in second.echoes] == ["hi"]

    started = time.monotonic()
    append_agent_message(replicas[1], assistant.token, first.conversation, "Olga here")
    for tab in (first, second):
        reply = await tab.wait_bot(lambda m: m["from"] == "agent", timeout=15)
        assert reply["agent_name"] == "Olga" and reply["text"] == "Olga here"
    assert time.monotonic() - started < 10

    # A reload on the other process: the same history, once.
    await first.close()
    reloaded = Visitor(replicas[1])
    await reloaded.open(token=first.token)
    texts = [m["text"] for m in reloaded.confirm["history"]]
    assert texts[0] == "hi" and texts[-1] == "Olga here" and texts.count("Olga here") == 1
    await reloaded.close()
    await second.close()

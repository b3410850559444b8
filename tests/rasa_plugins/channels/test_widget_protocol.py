"""The widget's sessions and messages (rasa_plugins/channels/widget_protocol.py)."""

from __future__ import annotations

from typing import Any

from rasa_plugins.channels import widget_protocol as protocol

SECRET = b"test-secret"


def test_a_token_names_only_the_conversation_it_was_issued_for() -> None:
    session_id, token = protocol.new_session(SECRET)
    assert protocol.SESSION_RE.match(session_id)
    assert protocol.session_of(SECRET, token) == session_id
    other_id, _ = protocol.new_session(SECRET)
    assert other_id != session_id
    mac = token.split(".", 1)[1]
    forged = [
        f"{other_id}.{mac}",              # someone else's conversation with my signature
        session_id,                        # the bare id
        f"{session_id}.",                  # no signature
        f"{session_id}.{mac[:-1]}{'B' if mac.endswith('A') else 'A'}",  # altered signature
        f"tg-12345.{mac}",                 # a Telegram chat's id
        "alice.x", "", None, 42, {"token": token}, "x" * 500,
    ]
    for candidate in forged:
        assert protocol.session_of(SECRET, candidate) is None, candidate
    assert protocol.session_of(b"another secret", token) is None


def event_bot(text: str, ts: float, **metadata: Any) -> dict[str, Any]:
    return {"event": "bot", "text": text, "timestamp": ts, "data": {}, "metadata": metadata}


def event_user(text: str, ts: float, message_id: str | None = None,
               **metadata: Any) -> dict[str, Any]:
    return {"event": "user", "text": text, "timestamp": ts, "message_id": message_id,
            "metadata": metadata}


def test_history_and_live_messages_share_ids() -> None:
    live = protocol.live_message({"text": "Hi!", "timestamp": 1000.25, "buttons": [
        {"title": "Track", "payload": "/track_order"}]})
    stored = {"event": "bot", "text": "Hi!", "timestamp": 1000.25,
              "data": {"buttons": [{"title": "Track", "payload": "/track_order"}]},
              "metadata": {}}
    [replayed] = protocol.history([stored])
    assert replayed == live
    assert live["buttons"] == [{"title": "Track", "payload": "/track_order"}]
    assert live["from"] == "assistant"


def test_agent_and_status_messages() -> None:
    agent = protocol.live_message({"text": "Hello", "timestamp": 5.0, "from": "agent",
                                   "agent_name": "Anna", "handoff_message_id": 3})
    assert agent["from"] == "agent" and agent["agent_name"] == "Anna"
    queued = protocol.live_message({"text": "You're number 2", "timestamp": 6.0,
                                    "from": "system",
                                    "status": {"state": "queued", "position": 2,
                                               "minutes": 4, "junk": "x"}})
    assert queued["from"] == "system"
    assert queued["status"] == {"state": "queued", "position": 2, "minutes": 4}
    odd = protocol.live_message({"text": "x", "timestamp": 7.0, "from": "martian",
                                 "status": {"state": "exploded"}})
    assert odd["from"] == "assistant" and "status" not in odd


def test_history_after_a_message_and_pressed_buttons() -> None:
    events = [
        {"event": "action", "name": "action_listen", "timestamp": 1.0},
        event_user("hi", 2.0, "client-id-0001"),
        event_bot("Hello!", 3.0),
        event_user("/request_human", 4.0, "client-id-0002", display="Talk to a person"),
        event_bot("You're number 1", 5.0, **{"from": "system"}),
        {"event": "slot", "name": "x", "value": 1, "timestamp": 5.5},
    ]
    everything = protocol.history(events)
    assert [m["role"] for m in everything] == ["user", "bot", "user", "bot"]
    assert everything[0]["id"] == "client-id-0001"
    assert everything[2]["text"] == "Talk to a person"  # the title, not the payload
    after = protocol.history(events, after=everything[1]["id"])
    assert [m["id"] for m in after] == [m["id"] for m in everything[2:]]
    assert protocol.history(events, after=everything[-1]["id"]) == []
    # An id the server does not know (another conversation's): everything, nothing lost.
    assert protocol.history(events, after="b-unknown") == everything
    assert len(protocol.history(events * 100, limit=10)) == 10


def test_user_messages_without_an_id_get_a_stable_one() -> None:
    first = protocol.history([event_user("hello", 12.5)])
    again = protocol.history([event_user("hello", 12.5)])
    assert first[0]["id"] == again[0]["id"].strip() and first[0]["id"].startswith("u")
    bad = protocol.history([event_user("hello", 12.5, "<script>")])
    assert bad[0]["id"].startswith("u")


def test_recently_sent_tops_up_a_history_not_stored_yet(monkeypatch: Any) -> None:
    clock = [100.0]
    monkeypatch.setattr(protocol.time, "monotonic", lambda: clock[0])
    recent = protocol.RecentlySent(keep_seconds=60)
    first = protocol.live_message({"text": "stored already", "timestamp": 1.0})
    second = protocol.live_message({"text": "not stored yet", "timestamp": 2.0})
    recent.add("web-a", first)
    recent.add("web-a", second)
    recent.add("web-b", protocol.live_message({"text": "someone else's", "timestamp": 3.0}))
    assert recent.missing("web-a", {first["id"]}) == [second]
    assert recent.missing("web-c", set()) == []
    clock[0] += 61
    assert recent.missing("web-a", set()) == []  # stored long since: forgotten

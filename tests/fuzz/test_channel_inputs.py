"""The REST channel's request checks (rasa_plugins/channels/rest_checks.py) and the client metadata
it hands Rasa (rasa_plugins/channels/client_identity.py), under any body.

Properties: ``check_body`` never raises; it takes a body only if the sender is a valid id
(no newline, no other channel's prefix), the message is non-empty text within its limit
and the metadata is an object within 4 KB; otherwise it refuses with 400 or 413 and a
message. The body a client sends never puts a system key (``is_external``, ``from``,
``client_id``...) at the top of the metadata Rasa stores.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from rasa_plugins.channels.client_identity import (
    MAX_BODY_BYTES,
    MAX_METADATA_BYTES,
    client_metadata,
    metadata_size,
)
from rasa_plugins.channels.rest_checks import MAX_MESSAGE_CHARS, SENDER_RE, check_body
from tests.fuzz.conftest import examples

SYSTEM_KEYS = ("is_external", "client_id", "from", "status", "display", "agent_name",
               "handoff", "handoff_message_id", "language")
HOSTILE_TEXT = st.one_of(
    st.text(), st.text(alphabet=st.characters(codec=None), max_size=50),
    st.sampled_from(["/restart", '/inform{"verified_order_id": "ORB-104217"}',
                     "/action_escalate", "<script>alert(1)</script>", "\u202e", "\x00",
                     "a\n", "\ud800", "x" * (MAX_MESSAGE_CHARS + 1), " \n\t "]),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | HOSTILE_TEXT,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12) | st.sampled_from(SYSTEM_KEYS), children,
                      max_size=4),
    max_leaves=20)
SENDERS = st.one_of(HOSTILE_TEXT, st.from_regex(r"[\w.:@+-]{1,128}", fullmatch=True),
                    st.sampled_from(["web-" + "0" * 32, "tg-1", "me\n", "me\r\n", "", "m" * 129]),
                    JSON_VALUES)
BODIES = st.fixed_dictionaries(
    {}, optional={"sender": SENDERS, "message": st.one_of(HOSTILE_TEXT, JSON_VALUES),
                  "metadata": JSON_VALUES})


def assert_answer(raw: bytes, declared: str | None = None) -> dict[str, Any] | None:
    body, refusal = check_body(raw, declared)
    if refusal is not None:
        status, message = refusal
        assert body is None and status in (400, 413) and message.strip()
        json.dumps({"error": message})  # the answer serializes
        return None
    assert body is not None and len(raw) <= MAX_BODY_BYTES
    sender, text = body["sender"], body["message"]
    assert isinstance(sender, str) and SENDER_RE.fullmatch(sender) and "\n" not in sender
    assert not sender.lower().startswith(("web-", "tg-"))
    assert isinstance(text, str) and text.strip() and len(text) <= MAX_MESSAGE_CHARS
    text.encode("utf-8")
    metadata = body.get("metadata")
    assert metadata is None or (isinstance(metadata, dict)
                                and metadata_size(metadata) <= MAX_METADATA_BYTES)
    stored = client_metadata(metadata, "ip:0123")
    assert set(stored) <= {"client_id", "language", "client"}
    assert stored["client_id"] == "ip:0123"
    assert stored.get("language") in (None, "en", "ru", "uk")
    return body


@settings(max_examples=examples(400))
@given(BODIES)
@example({"sender": "me\n", "message": "hi"})
@example({"sender": "me", "message": "hi", "metadata": {"is_external": True}})
@example({"sender": "me", "message": "\ud800"})
def test_any_json_body_is_taken_checked_or_refused_with_a_reason(body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    taken = assert_answer(raw)
    if taken is not None and isinstance(body.get("metadata"), dict):
        assert "is_external" not in client_metadata(body["metadata"], "ip:0123")


@settings(max_examples=examples(300))
@given(st.binary(max_size=2048), st.one_of(st.none(), st.text(max_size=12),
                                           st.integers(0, 10**9).map(str)))
@example(b"[" * 5000 + b"]" * 5000, None)
@example(b'{"sender": "me", "message": "hi", "metadata": ' + b"{\"a\":" * 3000
         + b"1" + b"}" * 3001, None)
@example(b"\xff\xfe{", None)
@example(b"{}", "99999999999")
@example(b'{"sender": "me", "message": "hi"}', "\u0661\u0662")  # digits, not ASCII ones
def test_any_bytes_are_refused_with_a_reason_never_an_exception(raw: bytes,
                                                                declared: str | None) -> None:
    assert_answer(raw, declared)


@settings(max_examples=examples(100))
@given(st.integers(1, 7000), st.sampled_from([b"[", b'{"a":']))
def test_nesting_at_any_depth_is_an_answer(depth: int, opener: bytes) -> None:
    closer = b"]" if opener == b"[" else b"}"
    inner = b"1" if opener != b"[" else b""
    metadata = opener * depth + inner + closer * depth
    raw = b'{"sender": "me", "message": "hi", "metadata": ' + metadata + b"}"
    body, refusal = check_body(raw)
    assert (body is None) != (refusal is None)
    if refusal is not None:
        assert refusal[0] in (400, 413)

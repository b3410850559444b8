"""The escalation webhook's signature and body (contract/signing.py, payload.py,
webhooks._check_payload) under arbitrary input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from contract.payload import REASONS, customer_text
from contract.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, sign, verify
from handoff import webhooks

NOW = 1_790_000_000
secrets_ = st.text(min_size=16, max_size=64)
bodies = st.binary(max_size=2048)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=20)


@given(secret=secrets_, body=bodies, moment=st.integers(NOW - 200, NOW + 200))
def test_a_signature_verifies_for_exactly_what_was_signed(secret: str, body: bytes,
                                                           moment: int) -> None:
    headers = sign(secret, body, now=moment)
    assert verify(secret, headers, body, now=NOW) == moment


@given(secret=secrets_, body=bodies, other=bodies)
def test_a_changed_body_never_verifies(secret: str, body: bytes, other: bytes) -> None:
    assume(other != body)
    headers = sign(secret, body, now=NOW)
    with pytest.raises(SignatureError, match="bad signature"):
        verify(secret, headers, other, now=NOW)


@given(secret=secrets_, body=bodies, shift=st.integers(-300, 300).filter(bool))
def test_a_changed_timestamp_never_verifies(secret: str, body: bytes, shift: int) -> None:
    headers = sign(secret, body, now=NOW)
    headers[TIMESTAMP_HEADER] = str(NOW + shift)
    with pytest.raises(SignatureError):
        verify(secret, headers, body, now=NOW)


@given(secret=secrets_, other=secrets_, body=bodies)
def test_another_secret_never_verifies(secret: str, other: str, body: bytes) -> None:
    assume(other != secret)
    with pytest.raises(SignatureError, match="bad signature"):
        verify(other, sign(secret, body, now=NOW), body, now=NOW)


@given(secret=secrets_, body=bodies,
       headers=st.dictionaries(st.sampled_from([TIMESTAMP_HEADER, SIGNATURE_HEADER, "X-Other"]),
                               st.text(max_size=80)))
def test_made_up_headers_are_refused_with_a_reason(secret: str, body: bytes,
                                                   headers: dict[str, str]) -> None:
    """Arbitrary header values (non-ASCII, huge numbers, empty) are a SignatureError
    with a message, never another exception and never accepted."""
    with pytest.raises(SignatureError) as refused:
        verify(secret, headers, body, now=NOW)
    assert str(refused.value)


def escalation(**fields: Any) -> dict[str, Any]:
    return {"escalation_id": "e1", "conversation_id": "c1", "channel": "rest",
            "language": "en", "reason": "customer_request", "created_at": "2026-11-23T10:00",
            "transcript": [], **fields}


@given(body=json_values)
def test_any_json_body_is_accepted_or_refused_with_a_message(body: Any) -> None:
    problem = webhooks._check_payload(body)
    assert problem is None or (isinstance(problem, str) and problem)
    if problem is None:  # only a well-formed escalation passes
        assert isinstance(body, dict) and body["reason"] in REASONS


@given(key=st.sampled_from(["escalation_id", "conversation_id", "channel", "language",
                            "reason", "created_at", "transcript", "sentiment_trail", "order",
                            "detail", "outside_hours", "agents_back_at", "agents_back_text"]),
       value=json_values)
def test_a_field_of_the_wrong_shape_is_named_in_the_refusal(key: str, value: Any) -> None:
    """Every field the service reads, of any type: either it has the shape the service
    reads (payload.Escalation) or the refusal names the field."""
    body = escalation(**{key: value})
    problem = webhooks._check_payload(body)
    if problem is not None:
        assert key in problem
        return
    optional = {"detail": str, "outside_hours": bool, "agents_back_at": str,
                "agents_back_text": str, "order": dict, "sentiment_trail": list}
    if key in optional:
        assert value is None or isinstance(value, optional[key])
    elif key == "transcript":
        assert isinstance(value, list) and all(
            isinstance(e, dict) and isinstance(e.get("role"), str) for e in value)
    else:
        assert isinstance(value, str) and value.strip()


@given(event=st.dictionaries(st.sampled_from(["text", "metadata", "parse_data", "event"]),
                             json_values | st.text().map(lambda t: "/" + t)))
def test_customer_text_of_any_user_event_is_a_string(event: dict[str, Any]) -> None:
    shown = customer_text(event)
    assert isinstance(shown, str)

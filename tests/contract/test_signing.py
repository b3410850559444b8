"""The webhook signature: right secret and body pass; anything else is refused."""

from __future__ import annotations

import pytest

from contract.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    sign,
    signature,
    verify,
)

SECRET = "a-shared-secret-of-some-length"  # noqa: S105 - a test value
BODY = b'{"escalation_id": "e1"}'


def test_a_signed_body_verifies() -> None:
    headers = sign(SECRET, BODY, now=1_800_000_000)
    assert verify(SECRET, headers, BODY, now=1_800_000_010) == 1_800_000_000
    assert headers[SIGNATURE_HEADER] == signature(SECRET, 1_800_000_000, BODY)
    assert headers[SIGNATURE_HEADER].startswith("sha256=")


@pytest.mark.parametrize(("change", "problem"), [
    (lambda h, b: (h, b + b" "), "bad signature"),
    (lambda h, b: ({**h, SIGNATURE_HEADER: "sha256=" + "0" * 64}, b), "bad signature"),
    (lambda h, b: ({TIMESTAMP_HEADER: h[TIMESTAMP_HEADER]}, b), "missing"),
    (lambda h, b: ({**h, TIMESTAMP_HEADER: "yesterday"}, b), "Unix seconds"),
    # The timestamp is signed too: moving it forward breaks the signature.
    (lambda h, b: ({**h, TIMESTAMP_HEADER: str(int(h[TIMESTAMP_HEADER]) + 5)}, b),
     "bad signature"),
])
def test_tampering_is_refused(change, problem) -> None:  # type: ignore[no-untyped-def]
    headers, body = change(sign(SECRET, BODY, now=1_800_000_000), BODY)
    with pytest.raises(SignatureError, match=problem):
        verify(SECRET, headers, body, now=1_800_000_001)


def test_another_secret_is_refused() -> None:
    with pytest.raises(SignatureError, match="bad signature"):
        verify("another-secret-entirely", sign(SECRET, BODY, now=100), BODY, now=100)


@pytest.mark.parametrize("skew", [301, -301, 3600])
def test_stale_or_future_requests_are_refused(skew: int) -> None:
    """A captured request cannot be replayed later: the timestamp is signed and checked."""
    headers = sign(SECRET, BODY, now=1_800_000_000)
    with pytest.raises(SignatureError, match="stale"):
        verify(SECRET, headers, BODY, now=1_800_000_000 + skew, tolerance=300)

"""Reading order numbers and contact details the way customers type them."""

from __future__ import annotations

import re
import unicodedata

from actions.policy import Policy

EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Phone-looking runs: an optional +, then digits with spaces, dots, dashes or brackets.
PHONE_RE = re.compile(r"\+?\d[\d\s().-]{6,}\d")
MIN_PHONE_DIGITS = 9
COMPARED_PHONE_DIGITS = 10


def order_id_pattern(policy: Policy) -> re.Pattern[str]:
    """Matches ``ORB-104217``, ``orb104217``, ``ORB 104217``, ``104217`` and ``ОRB`` typed with
    Cyrillic look-alikes; the digits are the only group."""
    prefix = re.escape(policy.order_id_prefix.rstrip("-").strip())
    digits = policy.order_id_digits
    return re.compile(
        rf"(?<![\w@.+-])(?:{prefix}[\s#№:_-]*)?(\d{{{digits}}})(?![\d@]|\.\w)",
        re.IGNORECASE,
    )


_LOOKALIKES = str.maketrans({"О": "O", "о": "o", "Р": "P", "р": "p", "В": "B", "в": "b"})


def parse_order_id(text: str, policy: Policy) -> str | None:
    """The first order number in ``text``, normalised to the canonical form, or None."""
    if not text:
        return None
    cleaned = unicodedata.normalize("NFKC", text.replace("№", " ")).translate(_LOOKALIKES)
    cleaned = EMAIL_RE.sub(" ", cleaned)
    match = order_id_pattern(policy).search(cleaned)
    if not match:
        return None
    return f"{policy.order_id_prefix}{match.group(1)}"


def parse_email(text: str) -> str | None:
    match = EMAIL_RE.search(text or "")
    return match.group(0).strip(".").lower() if match else None


def parse_phone(text: str) -> str | None:
    for match in PHONE_RE.finditer(text or ""):
        digits = re.sub(r"\D", "", match.group(0))
        if len(digits) >= MIN_PHONE_DIGITS:
            return match.group(0).strip()
    return None


def parse_contact(text: str) -> str | None:
    """An e-mail address or a phone number found in ``text``."""
    return parse_email(text) or parse_phone(text)


def _phone_digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def contact_matches(given: str, email: str, phone: str) -> bool:
    """True if ``given`` is the order's e-mail (any case) or phone (any formatting).

    Phones are compared on their last ten digits, so ``+49 151 2345 6701``,
    ``0151 23456701`` and ``8 916 555 0142`` against ``+7 916 555 0142`` all match, while
    short digit strings never do.
    """
    given = (given or "").strip()
    if not given:
        return False
    if "@" in given:
        return given.lower() == (email or "").strip().lower()
    digits, stored = _phone_digits(given), _phone_digits(phone or "")
    if len(digits) < MIN_PHONE_DIGITS or len(stored) < MIN_PHONE_DIGITS:
        return False
    width = min(COMPARED_PHONE_DIGITS, len(digits), len(stored))
    return digits[-width:] == stored[-width:]

"""The router's decision, apart from Rasa: given DIET's intent and ranking and the
router's P(request), which intent the message gets (``bot.nlu.router`` applies it)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

JOBS = ("track_order", "cancel_order", "change_address", "report_lost_parcel", "return_item",
        "warranty_claim")
QUESTION = "faq"
ROUTABLE = frozenset({*JOBS, QUESTION, "nlu_fallback", "out_of_scope"})
# An order number, e-mail or phone alone is `inform`; with a request around it
# ("cancel 104402, maria@example.it") it is that job, with its facts.
DATA = "inform"
_DATA_RE = re.compile(r"\borb[\s-]?\d{6}\b|\b\d{6}\b|[^\s@]+@[^\s@]+\.[^\s@]+|"
                      r"\+?\d[\d\s().-]{7,}\d", re.IGNORECASE)
MIN_REQUEST_WORDS = 2

# The job a request names by its words, when DIET's ranking has no job worth taking.
_JOB_WORDS = (
    ("warranty_claim", r"warrant|guarantee|repair|broke|broken|stopped|doesn'?t work|defect|"
                       r"faulty|гарант|ремонт|слома|не работа|не включа|сломан|дефект|"
                       r"гаранті|зламал|не працю|не вмика"),
    ("report_lost_parcel", r"lost|never (?:arrived|came)|missing|потерял|потерян|не пришл|"
                           r"не доставили|загуб|втрач|не прийшл"),
    ("change_address", r"address|адрес"),
    ("cancel_order", r"cancel|отмен|скасу"),
    ("return_item", r"return|refund|send (?:it )?back|exchange|вернуть|верните|возврат|"
                    r"обмен|повернут|поверніть|поверн|обмін"),
    ("track_order", r"where|track|when .*(?:arrive|come|deliver)|status|waiting|где|отслед|"
                    r"статус|жду|ждём|чекаю|"
                    r"когда .*(?:придёт|придет|доставят)|де |відстеж|коли .*(?:прийде|доставлять)"),
)


def job_named_by_words(text: str) -> str | None:
    lowered = text.lower()
    for job, pattern in _JOB_WORDS:
        if re.search(pattern, lowered):
            return job
    return None


def route(text: str, intent: Mapping[str, Any], ranking: Sequence[Mapping[str, Any]],
          p_request_of: Callable[[list[str]], Any], threshold: float = 0.5,
          min_job_confidence: float = 0.01,
          question_below: float | None = None) -> tuple[str, float, str, float] | None:
    """(new intent, its confidence, DIET's intent, P(request)), or None to leave it.

    A request DIET took for a question becomes a request at P(request) >= ``threshold``;
    a question DIET gave to a job becomes a question below ``question_below`` (default:
    the same threshold): overruling DIET's job can ask for more certainty.
    """
    question_below = threshold if question_below is None else question_below
    if not text.strip() or text.startswith("/"):
        return None
    ranked = [r for r in ranking if r.get("name") != "nlu_fallback"]
    top = str(intent.get("name") or "")
    diet_top = str(ranked[0]["name"]) if ranked else top
    confidences = {str(r["name"]): float(r.get("confidence") or 0.0) for r in ranked}
    if DATA in (top, diet_top):
        return _data_with_request(text, top, confidences, p_request_of, threshold)
    if top not in ROUTABLE or diet_top not in ROUTABLE:
        return None
    p_request = float(p_request_of([text])[0])
    if p_request >= threshold:
        if top in JOBS:
            return None
        confidence, job = max((confidences.get(job, 0.0), job) for job in JOBS)
        if confidence < min_job_confidence:
            named = job_named_by_words(text)
            if named is None:
                return None
            job = named
        return job, max(confidences.get(job, 0.0), p_request), top, p_request
    if top in JOBS and p_request < question_below:
        return QUESTION, max(confidences.get(QUESTION, 0.0), 1 - p_request), top, p_request
    return None


def _data_with_request(text: str, top: str, confidences: Mapping[str, float],
                       p_request_of: Callable[[list[str]], Any],
                       threshold: float) -> tuple[str, float, str, float] | None:
    """Order data with words around it that ask for a job: that job."""
    words = re.findall(r"[^\W\d_]{2,}", _DATA_RE.sub(" ", text))
    if len(words) < MIN_REQUEST_WORDS:
        return None
    named = job_named_by_words(" ".join(words))
    if named is None:
        return None
    p_request = float(p_request_of([text])[0])
    if p_request < threshold:
        return None
    return named, max(confidences.get(named, 0.0), p_request), top, p_request

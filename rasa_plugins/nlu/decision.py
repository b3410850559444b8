"""The router's decision, apart from Rasa: given DIET's intent and ranking and the
router's P(request), which intent the message gets (``rasa_plugins.nlu.router`` applies it)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

# Every order job (data/rules/orders.yml starts each one's form), case_status included: a
# question DIET gives to any of them is the knowledge base's when the router says so.
JOBS = ("track_order", "cancel_order", "change_address", "report_lost_parcel", "return_item",
        "warranty_claim", "case_status")
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
    ("report_lost_parcel", r"\blost|never (?:arrived|came|showed)|missing|потер|пропал|"
                           r"не пришл|не доставили|загуб|втрач|не прийшл|зник"),
    ("warranty_claim", r"warrant|guarantee|repair|broke|broken|stopped|does ?n[o']?t (?:work|"
                       r"charge|turn|connect)|won'?t|not working|dead|cracked|defect|faulty|"
                       r"гарант|ремонт|слома|не работа|не включа|не заряжа|не ловит|пропал звук|"
                       r"перестал|перестав|"
                       r"дефект|почин|гаранті|зламал|не працю|не вмика|не заряджа|полагод"),
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
        # After the NLU fallback DIET's ranking is a guess: the job the words name comes
        # first; otherwise DIET's best job, or the words when DIET has none.
        if top == "nlu_fallback":
            job = job_named_by_words(text) or _ranked_job(confidences, min_job_confidence)
        else:
            job = _ranked_job(confidences, min_job_confidence) or job_named_by_words(text)
        if job is None:
            return None
        return job, max(confidences.get(job, 0.0), p_request), top, p_request
    if top in JOBS and p_request < question_below:
        return QUESTION, max(confidences.get(QUESTION, 0.0), 1 - p_request), top, p_request
    return None


def _ranked_job(confidences: Mapping[str, float], minimum: float) -> str | None:
    confidence, job = max((confidences.get(job, 0.0), job) for job in JOBS)
    return job if confidence >= minimum else None


def _data_with_request(text: str, top: str, confidences: Mapping[str, float],
                       p_request_of: Callable[[list[str]], Any],
                       threshold: float) -> tuple[str, float, str, float] | None:
    """Order data with words around it that ask for a job: that job."""
    words = re.findall(r"[^\W\d_]{2,}", _DATA_RE.sub(" ", text))
    if len(words) < MIN_REQUEST_WORDS:
        return None
    named = job_named_by_words(" ".join(words)) or _ranked_job(confidences, 0.05)
    if named is None:
        return None
    p_request = float(p_request_of([text])[0])
    if p_request < threshold:
        return None
    return named, max(confidences.get(named, 0.0), p_request), top, p_request

"""Question or request? The held-out routing sets (tests/routing_heldout/), per language.

Each held-out message is labelled `question` (with the article that answers it) or
`request` (with the job it must start). They were written apart from data/nlu/ and are
never trained or tuned on. Every message goes through the trained Rasa model (DIET, the
FallbackClassifier and the router, in the Rasa environment); the ones that reach the
knowledge base (faq, the NLU fallback, out of scope: data/rules/faq.yml) are answered by
it as the action server would. Prints, per language:

  questions -> KB     questions that reach the knowledge base, not a form
  right article       questions answered confidently with the labelled article
  requests -> job     requests that start the labelled job (the first turn's intent)
  any job             requests that start some job

Usage: .venv-services/bin/python bench/routing_eval.py [--set DIR]   (make eval-routing)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.processes import StartError, newest_model  # noqa: E402
from knowledge.base import KnowledgeBase  # noqa: E402
from knowledge.settings import KnowledgeSettings  # noqa: E402

JOBS = {"track_order", "cancel_order", "change_address", "report_lost_parcel", "return_item",
        "warranty_claim"}
TO_KNOWLEDGE = {"faq", "nlu_fallback", "out_of_scope"}


def load_set(folder: Path) -> dict[str, list[dict[str, str]]]:
    sets = {}
    for path in sorted(folder.glob("*.yml")):
        sets[path.stem] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return sets


def parse(texts: list[str], out: Path, model: Path) -> list[dict[str, object]]:
    source = out / "texts.json"
    target = out / "parsed.json"
    source.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    subprocess.run([str(ROOT / ".venv-rasa" / "bin" / "python"), str(ROOT / "bench" /
                    "routing_parse.py"), str(model), str(source), str(target)],
                   cwd=ROOT, check=True, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    return list(json.loads(target.read_text(encoding="utf-8")))


def share(hits: int, total: int) -> str:
    return f"{hits / total:6.1%} ({hits}/{total})" if total else "     -"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default=str(ROOT / "tests" / "routing_heldout"))
    parser.add_argument("--model", help="a trained model (default: the newest in models/)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    sets = load_set(Path(args.set))
    out = ROOT / "results" / "routing"
    out.mkdir(parents=True, exist_ok=True)
    rows = [(lang, item) for lang, items in sets.items() for item in items]
    try:
        model = Path(args.model) if args.model else newest_model()
    except StartError as exc:
        print(exc)
        return 1
    parsed = parse([str(item["text"]) for _, item in rows], out, model)
    kb = KnowledgeBase.load(KnowledgeSettings.from_env())
    print(f"model {model.name}; held-out set {args.set}")
    print(f"{'lang':<5}{'questions -> KB':>22}{'right article':>22}{'requests -> job':>22}"
          f"{'any job':>22}")
    errors: list[str] = []
    for lang in sets:
        q_total = q_kb = q_right = r_total = r_right = r_any = 0
        for (language, item), result in zip(rows, parsed, strict=True):
            if language != lang:
                continue
            intent = str(result["intent"])
            label = f"[{lang}] {item['label']:<8} {item.get('article') or item.get('job')}"
            got = f"{intent} (DIET {result['routed_from'] or intent}, p_request " \
                  f"{result['p_request']})"
            if item["label"] == "question":
                q_total += 1
                if intent not in TO_KNOWLEDGE:
                    errors.append(f"{label} -> {got}: {item['text']}")
                    continue
                q_kb += 1
                answer = kb.retriever.answer(str(item["text"]), lang)
                best = answer.best.article_id if answer.best else None
                if answer.confident and best == item["article"]:
                    q_right += 1
                else:
                    errors.append(f"{label} -> KB {best} (score {answer.score:.3f}, "
                                  f"confident {answer.confident}): {item['text']}")
            else:
                r_total += 1
                r_any += intent in JOBS
                if intent == item["job"]:
                    r_right += 1
                else:
                    errors.append(f"{label} -> {got}: {item['text']}")
        print(f"{lang:<5}{share(q_kb, q_total):>22}{share(q_right, q_total):>22}"
              f"{share(r_right, r_total):>22}{share(r_any, r_total):>22}")
    kb.close()
    (out / "errors.txt").write_text("\n".join(errors) + "\n", encoding="utf-8")
    print(f"{len(errors)} misses listed in {out / 'errors.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

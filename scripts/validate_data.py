"""`rasa data validate`, strict: any warning fails, with one justified exception.

Rasa warns about every response that no story or rule mentions, but most of this
assistant's responses are sent by custom actions (`dispatcher.utter_message(response=...)`)
or by the form (``utter_ask_<slot>``). Such a warning is accepted only if the action code
really names that response, as a literal or through an f-string prefix such as
``f"utter_return_{block}"``, or if it asks for a slot of the domain; every other warning
(and every unused response) fails the check. Intents named ``EXTERNAL_*`` are sent by
other services (``trigger_intent``), never typed, so they have no NLU examples on purpose.

Run with the Rasa environment: .venv-rasa/bin/python scripts/validate_data.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
UNUSED = re.compile(r"The utterance '(utter_\w+)' is not used in any story or rule")
EXTERNAL_INTENT = re.compile(r"The intent 'EXTERNAL_\w+' is listed in the domain file, but is "
                             r"not found in the NLU training data")
WARNING = re.compile(r"(UserWarning|FutureWarning|WARNING)\b")
IGNORED_NOISE = ("DeprecationWarning", "argument_group", "Nesting argument groups")


def responses_named_in_actions() -> tuple[set[str], set[str]]:
    literals: set[str] = set()
    prefixes: set[str] = set()
    for path in (ROOT / "actions").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        literals.update(re.findall(r"[\"'](utter_\w+)[\"']", source))
        prefixes.update(re.findall(r"f[\"'](utter_\w*?)\{", source))
    return literals, prefixes


def main() -> int:
    result = subprocess.run(
        [str(ROOT / ".venv-rasa" / "bin" / "rasa"), "data", "validate", "--max-history", "5"],
        cwd=ROOT, capture_output=True, text=True, check=False,
        # Rasa's own SQL tracker store uses SQLAlchemy 1.4 APIs; its banner is not about data.
        env={**os.environ, "SQLALCHEMY_SILENCE_UBER_WARNING": "1"},
    )
    slots = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["slots"]
    form_asks = {f"utter_ask_{slot}" for slot in slots}
    output = result.stdout + result.stderr
    literals, prefixes = responses_named_in_actions()
    problems = []
    for line in output.splitlines():
        if any(noise in line for noise in IGNORED_NOISE):
            continue
        if EXTERNAL_INTENT.search(line):
            continue
        unused = UNUSED.search(line)
        if unused:
            name = unused.group(1)
            if name in literals or name in form_asks or any(name.startswith(p) for p in prefixes):
                continue
            problems.append(f"response {name} is used by no story, rule or action")
        elif WARNING.search(line) or "ERROR" in line:
            problems.append(line.strip())
    if result.returncode != 0:
        problems.append(f"rasa data validate exited with {result.returncode}")
    for problem in problems:
        print(f"validate: {problem}")
    print("validate: clean" if not problems else f"validate: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

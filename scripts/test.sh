#!/usr/bin/env bash
# The project's test command (`make test`), as CI runs it: lint, strict data validation,
# training (skipped when nothing changed), conversation tests, unit and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false
step() { printf '\n==> %s\n' "$*"; }

mkdir -p results

step "lint (ruff) and types (mypy)"
bash scripts/lint.sh

step "rasa data validate (strict)"
.venv-rasa/bin/python scripts/validate_data.py

step "train (only if config, domain or data changed)"
.venv-services/bin/python -m bot train > results/train.log 2>&1 || { tail -n 40 results/train.log; exit 1; }
tail -n 1 results/train.log
model=$(.venv-services/bin/python -c "from bot.processes import train, base_env; print(train(base_env(), sink=None))")

step "conversation tests: rasa test --fail-on-prediction-errors"
rm -rf results/conversations
status=0
.venv-rasa/bin/rasa test core --stories tests --fail-on-prediction-errors --model "$model" \
    --out results/conversations > results/conversation-tests.log 2>&1 || status=$?
if [ "$status" -ne 0 ] || grep -q "story:" results/conversations/failed_test_stories.yml; then
    tail -n 40 results/conversation-tests.log
    cat results/conversations/failed_test_stories.yml 2>/dev/null || true
    echo "conversation tests failed"; exit 1
fi
echo "all $(grep -c '^  - story:' tests/test_*.yml | awk -F: '{s+=$2} END {print s}') conversation tests passed"

step "test servers: chromium, postgresql, redis, the Telegram emulator"
bash scripts/test_servers.sh

step "unit and end-to-end tests (pytest)"
.venv-services/bin/python -m pytest

#!/usr/bin/env bash
# Installs, from Debian, the servers that the tests start themselves (tests/servers.py):
# Chromium for the Playwright browser tests (nothing downloads a browser at run time) and
# PostgreSQL for throwaway clusters, Redis for the several-process tests, nginx for the
# balancer of the scaled stack (scripts/debian_servers.sh does the apt part, idempotently).
# Also the Telegram Bot API emulator's npm packages (tests/telegram), from its lock, when
# they are missing or older than the lock (needs node and npm).
set -euo pipefail

started=$(date +%s)

telegram_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/telegram"
if [ -d "$telegram_dir/node_modules/telegram-test-api" ] \
    && ! [ "$telegram_dir/package-lock.json" -nt "$telegram_dir/node_modules/.package-lock.json" ]; then
    echo "test servers: telegram emulator packages already installed; npm not run"
else
    if ! command -v npm > /dev/null || ! command -v node > /dev/null; then
        echo "test servers: node and npm are missing; the Telegram emulator (tests/telegram)" \
            "needs Node.js 18+ and npm (Debian: apt-get install nodejs npm)" >&2
        exit 1
    fi
    npm_log=$(mktemp)
    if ! (cd "$telegram_dir" && npm ci --no-audit --no-fund) > "$npm_log" 2>&1; then
        tail -n 30 "$npm_log" >&2; rm -f "$npm_log"
        echo "test servers: npm ci in tests/telegram failed" >&2
        exit 1
    fi
    rm -f "$npm_log"
    echo "test servers: telegram emulator packages installed with npm ci in $(( $(date +%s) - started )) s"
fi

exec bash "$(dirname "${BASH_SOURCE[0]}")/debian_servers.sh" chromium postgresql redis nginx

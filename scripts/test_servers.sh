#!/usr/bin/env bash
# Installs, from Debian, the servers that the tests start themselves (tests/servers.py):
# Chromium for the Playwright browser tests (nothing downloads a browser at run time) and
# PostgreSQL for throwaway clusters, Redis for the widget's several-process test.
# Idempotent: when all are present apt is not touched.
# Also the Telegram Bot API emulator's npm packages (tests/telegram), from its lock, when
# they are missing or older than the lock (needs node and npm).
# `apt-get update` runs only when the package lists are empty or an install fails without it.
# Waits (up to about 5 minutes) while another apt-get or dpkg holds the locks.
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

have_chromium() { [ -x /usr/bin/chromium ]; }
have_redis() { [ -x /usr/bin/redis-server ]; }
have_postgresql() {
    local bin
    for bin in /usr/lib/postgresql/*/bin; do
        if [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] && [ -x "$bin/postgres" ] \
            && [ -x "$bin/createdb" ]; then
            return 0
        fi
    done
    return 1
}
missing_packages() {
    have_chromium || printf 'chromium '
    have_postgresql || printf 'postgresql '
    have_redis || printf 'redis-server '
}

read -r -a missing <<< "$(missing_packages)"
if [ "${#missing[@]}" -eq 0 ]; then
    echo "test servers: chromium, postgresql and redis-server already installed; apt not run"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo > /dev/null; then
    as_root=(sudo)
else
    echo "test servers: ${missing[*]} missing; installing needs root or sudo" >&2
    exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# apt-get with the given arguments, output to $log; retries while the apt/dpkg locks are taken.
apt_get() {
    local attempt
    for attempt in $(seq 1 10); do
        if "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q \
            -o DPkg::Lock::Timeout=20 "$@" > "$log" 2>&1; then
            return 0
        fi
        grep -qE 'Could not get lock|Unable to lock|Unable to acquire' "$log" || return 1
        [ "$attempt" -lt 10 ] && sleep 10
    done
    return 1
}
install() { apt_get install -y --no-install-recommends "${missing[@]}"; }

updated=""
if ! compgen -G '/var/lib/apt/lists/*_Packages*' > /dev/null; then
    apt_get update || { tail -n 30 "$log" >&2; echo "test servers: apt-get update failed" >&2; exit 1; }
    updated=" (after apt-get update: the package lists were empty)"
fi
if ! install; then
    if [ -n "$updated" ]; then
        tail -n 30 "$log" >&2; echo "test servers: installing ${missing[*]} failed" >&2; exit 1
    fi
    apt_get update || { tail -n 30 "$log" >&2; echo "test servers: apt-get update failed" >&2; exit 1; }
    updated=" (after apt-get update: the first try failed)"
    install || { tail -n 30 "$log" >&2; echo "test servers: installing ${missing[*]} failed" >&2; exit 1; }
fi

read -r -a still <<< "$(missing_packages)"
if [ "${#still[@]}" -ne 0 ]; then
    echo "test servers: installed ${missing[*]} but ${still[*]} still missing" >&2
    exit 1
fi
echo "test servers: installed ${missing[*]} with apt-get in $(( $(date +%s) - started )) s${updated}"

#!/usr/bin/env bash
# Installs, from Debian, the servers named on the command line when they are missing:
#   chromium     Debian's Chromium (the Playwright browser tests)
#   postgresql   the PostgreSQL server programs (initdb, pg_ctl, postgres, createdb)
#   redis        redis-server
#   nginx        nginx (the load balancer of `make run-scaled`)
# Used by scripts/test_servers.sh (make test) and by `make run-scaled` (bot/scaled.py).
# Idempotent: when all are present apt is not touched. Nothing is started or enabled here:
# the tests and `make run-scaled` run their own instances with their own data folders.
# `apt-get update` runs only when the package lists are empty or an install fails without it.
# Waits (up to about 5 minutes) while another apt-get or dpkg holds the locks.
set -euo pipefail

started=$(date +%s)
say() { echo "debian servers: $*"; }

have() {
    local bin
    case "$1" in
        chromium) [ -x /usr/bin/chromium ] ;;
        redis) [ -x /usr/bin/redis-server ] ;;
        nginx) [ -x /usr/sbin/nginx ] ;;
        postgresql)
            for bin in /usr/lib/postgresql/*/bin; do
                if [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] && [ -x "$bin/postgres" ] \
                    && [ -x "$bin/createdb" ]; then
                    return 0
                fi
            done
            return 1 ;;
        *) echo "debian servers: unknown server '$1' (chromium, postgresql, redis, nginx)" >&2
           exit 2 ;;
    esac
}
package_of() {
    case "$1" in
        redis) echo redis-server ;;
        *) echo "$1" ;;
    esac
}

[ "$#" -gt 0 ] || { echo "usage: $0 chromium|postgresql|redis|nginx ..." >&2; exit 2; }
wanted=("$@")
missing_packages() {
    local name
    for name in "${wanted[@]}"; do
        have "$name" || printf '%s ' "$(package_of "$name")"
    done
}

read -r -a missing <<< "$(missing_packages)"
if [ "${#missing[@]}" -eq 0 ]; then
    say "${wanted[*]} already installed; apt not run"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo > /dev/null; then
    as_root=(sudo)
else
    echo "debian servers: ${missing[*]} missing; installing needs root or sudo" >&2
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
fail() { tail -n 30 "$log" >&2; echo "debian servers: $*" >&2; exit 1; }

say "installing ${missing[*]} with apt-get"
updated=""
if ! compgen -G '/var/lib/apt/lists/*_Packages*' > /dev/null; then
    apt_get update || fail "apt-get update failed"
    updated=" (after apt-get update: the package lists were empty)"
fi
if ! install; then
    [ -z "$updated" ] || fail "installing ${missing[*]} failed"
    apt_get update || fail "apt-get update failed"
    updated=" (after apt-get update: the first try failed)"
    install || fail "installing ${missing[*]} failed"
fi

read -r -a still <<< "$(missing_packages)"
if [ "${#still[@]}" -ne 0 ]; then
    echo "debian servers: installed ${missing[*]} but ${still[*]} still missing" >&2
    exit 1
fi
say "installed ${missing[*]} with apt-get in $(( $(date +%s) - started )) s${updated}"

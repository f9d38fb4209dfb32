#!/usr/bin/env bash
# Install the PostgreSQL server binaries the sweep tests use as a real multi-machine storage
# (tests/sweep/postgres_server.py: initdb + pg_ctl on 127.0.0.1, started and stopped by the test suite).
# Idempotent: does nothing when initdb, pg_ctl and postgres are already on PATH or in
# /usr/lib/postgresql/*/bin. Without root it only says what to run; the PostgreSQL tests then skip
# themselves with the same hint.
set -euo pipefail

BINARIES=(initdb pg_ctl postgres)  # = REQUIRED_BINARIES in tests/sweep/postgres_server.py
PACKAGES=(postgresql)

have_all() {
    local bin
    for bin in "${BINARIES[@]}"; do
        command -v "$bin" >/dev/null 2>&1 || return 1
    done
}

have_in_lib() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ] && return 0
    done
    return 1
}

if have_all; then
    echo "install-postgres: initdb, pg_ctl and postgres are already installed ($(initdb --version 2>/dev/null))"
    exit 0
fi
if have_in_lib; then
    echo "install-postgres: PostgreSQL is installed under /usr/lib/postgresql (the tests look there too)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-postgres: skipped (not root). To enable the PostgreSQL sweep tests run as root:" >&2
    echo "    apt-get update && apt-get install -y --no-install-recommends ${PACKAGES[*]}" >&2
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-postgres: skipped (no apt-get; install ${PACKAGES[*]} with your package manager)" >&2
    exit 0
fi

echo "install-postgres: installing ${PACKAGES[*]} from the distribution"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${PACKAGES[@]}"
# The package starts a cluster of its own; the tests do not use it (they run their own on a free port).

if ! have_all && ! have_in_lib; then
    echo "install-postgres: installed, but initdb/pg_ctl/postgres were not found" >&2
    exit 1
fi
echo "install-postgres: done"

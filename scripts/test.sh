#!/usr/bin/env bash
# The whole test suite: every crate, SQLite and PostgreSQL alike (PostgreSQL is started or installed).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-postgres.sh
export PROVOST_TEST_POSTGRES_URL=${PROVOST_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
cargo test --workspace --locked "$@"
# The HTTP API suite again, every test server on its own PostgreSQL database.
PROVOST_TEST_BACKEND=postgres cargo test -p provost-server --test it --locked "$@"

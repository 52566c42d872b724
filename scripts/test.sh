#!/usr/bin/env bash
# The whole test suite: every crate (bench/ aside), SQLite and PostgreSQL alike (PostgreSQL is
# started or installed; so is Chromium, for the API page).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-postgres.sh
./scripts/ensure-chromium.sh   # the API page is checked in a real browser
./scripts/ensure-redis.sh      # the event bus tests run real redis-server processes
./scripts/ensure-doc-tools.sh  # curl, jq, openssl, sqlite3 for the docs test (crates/provost/tests/it/docs.rs)
./scripts/ensure-moto.sh >/dev/null  # S3 for the programs app's report tests (moto_server)
./scripts/ensure-mariadb.sh  # the legacy app's tests read and write the platform's MySQL tables
export PROVOST_TEST_POSTGRES_URL=${PROVOST_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
# default-members: every crate but bench/, which only its own command builds.
cargo test --locked "$@"
# The HTTP API suite again, every test server on its own PostgreSQL database.
PROVOST_TEST_BACKEND=postgres cargo test -p provost-server --test it --locked "$@"
# The Python client and its Django/DRF integration, against a real `provost serve` (pytest).
./scripts/python-client.sh

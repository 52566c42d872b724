#!/usr/bin/env bash
# Measures `provost legacy migrate` over N generated legacy rows (default 1,000,000) from MariaDB
# into a fresh SQLite file: wall time and peak memory (`/usr/bin/time -v`), and the same for a
# tenth of the rows, each beside the peak of a node that only opens the migrated database.
# Usage: scripts/legacy-bench.sh [ROWS] [debug|release]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
profile=${2:-release}
./scripts/ensure-mariadb.sh
mysql_url=${PROVOST_BENCH_MYSQL:-mysql://root@127.0.0.1:3306}
db=provost_legacy_bench

if [ "$profile" = release ]; then
  cargo build --locked --release -p provost
else
  cargo build --locked -p provost
fi
provost=target/$profile/provost
if ! command -v /usr/bin/time >/dev/null; then
  apt-get update -qq && apt-get install -y -qq time >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

measure() {
  local n=$1
  mariadb --protocol=tcp -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
  grep -v '^--' crates/provost-testkit/fixtures/openedx-legacy-roles.sql | mariadb --protocol=tcp -h 127.0.0.1 -u root "$db"
  cargo run --quiet --locked -p provost-testkit --example legacy-generate -- "$n" |
    mariadb --protocol=tcp -h 127.0.0.1 -u root "$db"
  rm -f "$work"/provost.db*
  echo "== $n rows ($profile build)"
  /usr/bin/time -v "$provost" --database-url "sqlite://$work/provost.db?mode=rwc" \
    legacy migrate --from "$mysql_url/$db" --all --batch-size "${PROVOST_BENCH_BATCH:-20000}" --json \
    >"$work/report.json" 2>"$work/time.txt"
  # CPU time too: on a shared machine the wall clock also counts the other processes' turns.
  grep -E 'Elapsed \(wall clock\)|User time|System time|Percent of CPU|Maximum resident set size' "$work/time.txt"
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("status", r["status"], r["counts"])' "$work/report.json"
  # A node holds every assignment in memory by design; the same command's peak on the migrated
  # database without migrating is that baseline, so the difference is what the migration itself uses.
  /usr/bin/time -v "$provost" --database-url "sqlite://$work/provost.db?mode=rwc" legacy runs --limit 1 \
    >/dev/null 2>"$work/time.txt"
  echo "  a node opening the migrated database (baseline):"
  grep -E 'Maximum resident set size' "$work/time.txt"
}

measure $((rows / 10))
measure "$rows"

#!/usr/bin/env bash
# Records the examples of the OpenAPI document (crates/provost-server/src/openapi_examples.json)
# from a real `provost serve`: the requests of scripts/openapi-examples/requests.json, sent in
# order on the data set up below, and the answers the server gave. Then rebuilds (the file is
# part of the binary) and checks every example of the served document against its schema.
# Run it after adding or changing an operation: the test `openapi_documents_every_operation`
# names each operation still without a summary, a description or examples.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# shellcheck source=scripts/fuzz-common.sh
. scripts/fuzz-common.sh
export PROVOST_JWT_SECRET=openapi-examples-secret-not-for-production
export PROVOST_REPORTS_URL="$work/reports"

# The people of the examples: dana runs a course, bob and carol are on a library team, ada and
# ben are learners of an enterprise customer.
"$provost" users upsert dana --email dana@example.com >/dev/null
"$provost" users upsert bob --email bob@example.com >/dev/null
"$provost" users upsert carol --email carol@example.com >/dev/null
"$provost" users upsert erin >/dev/null
for learner in ada ben; do
  "$provost" users upsert "$learner" --email "$learner@example.com" >/dev/null
  "$provost" assign "$learner" enterprise_learner enterprise:7c9e6679-7425-40de-944b-e07fc1f90ae7 >/dev/null
done
"$provost" assign carol library_user 'lib:MITx:python-basics' >/dev/null
# A report of the program the examples create (its uuid is fixed in requests.json).
mkdir -p "$work/reports/MITx/9f1c2b7e5d434c1a9a572f6d8e0b4c11"
printf 'student_key,status\nstudent-0001,enrolled\n' \
  >"$work/reports/MITx/9f1c2b7e5d434c1a9a572f6d8e0b4c11/enrollments__$(date -u +%F).csv"
tokens=$work/tokens.json
{
  printf '{"admin": "%s"' "$("$provost" token --user admin --superuser --ttl 2h)"
  for user in dana bob ada ben; do
    printf ', "%s": "%s"' "$user" "$("$provost" token --user "$user" --ttl 2h)"
  done
  printf '}\n'
} >"$tokens"

start_serve
"$venv/bin/python" scripts/openapi-examples/record.py record "http://$address" "$tokens" \
  scripts/openapi-examples/requests.json crates/provost-server/src/openapi_examples.json

echo "== rebuilding with the new examples, and checking them"
kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
server_pid=
cargo build --locked -p provost
start_serve
"$venv/bin/python" scripts/openapi-examples/record.py check "http://$address"

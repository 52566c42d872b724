#!/usr/bin/env bash
# Fuzzes a real `provost serve` against its own OpenAPI document with schemathesis (every operation,
# every check), once as an admin and once as a plain user; any failure fails the run.
# Extra arguments go to both schemathesis runs (e.g. `--max-examples 200`).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# shellcheck source=scripts/fuzz-common.sh
. scripts/fuzz-common.sh
export PROVOST_JWT_SECRET=api-fuzz-secret-not-for-production

# A little data, so listings, lookups and role reads have something to answer with.
"$provost" users upsert alice --email alice@example.com >/dev/null
"$provost" users upsert bob >/dev/null
"$provost" assign alice course_staff org:MITx >/dev/null
"$provost" assign bob library_author 'lib:MITx:python-basics' >/dev/null
"$provost" assign alice course_auditor 'course-v1:MITx+6.00x+2024T1' >/dev/null
admin_token=$("$provost" token --user admin --superuser --ttl 2h)
"$provost" programs create mit-ds --title "Data Science" --type masters --org MITx >/dev/null
"$provost" assign alice program_read_write_enrollments org:MITx >/dev/null
user_token=$("$provost" token --user alice --ttl 2h)

start_serve

# The document's examples (recorded by scripts/openapi-examples.sh) fit their schemas.
"$venv/bin/python" scripts/openapi-examples/record.py check "http://$address"

# What schemathesis cannot know from any document, said once here.
cat >"$work/schemathesis.toml" <<'TOML'
# 422 is "well-formed but refused by a rule" (an unknown role or permission, a role that grants
# nothing at that scope): which roles and permissions exist is data, not schema.
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429", "5xx"]

# 503 is a designed answer (a revision this node has not reached in time, a database that is
# down); a 500 is still a failure.
[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "503"]

# The batches app answers the Sunbird way: well-formed input a rule refuses (a past start date, an
# unknown course, batch or user) is a 400 CLIENT_ERROR there, as its clients expect.
[[operations]]
include-path-regex = "^/(v1|course/v1)/"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "404", "429"]

# Cursors are opaque: only those the server handed out are valid, so each listing gets one of
# its own kind (base64url of the JSON of the last item's key).
[[operations]]
include-path = "/api/v1/audit"
parameters = { "query.cursor" = "eyJiZWZvcmUiOjV9" }

[[operations]]
include-path-regex = "^/api/v1/lookup/"
parameters = { "query.cursor" = "ImFsaWNlIg" }

[[operations]]
include-path-regex = "^/api/v1/(assignments|roles/\\{name\\}/impact)$"
parameters = { "query.cursor" = "eyJzdWJqZWN0IjoiYWxpY2UiLCJyb2xlIjoiY291cnNlX3N0YWZmIiwic2NvcGUiOiJvcmc6TUlUeCJ9" }

[[operations]]
include-path-regex = "^/api/v1/programs/?$"
parameters = { "query.cursor" = "Im1pdC1kcyI" }

# More than 25 students in one enrollment request is 413, Registrar's answer, given before any
# item is looked at.
[[operations]]
include-path-regex = "^/api/v1/programs/\\{key\\}/(courses/\\{course_id\\}/)?enrollments/?$"
checks.negative_data_rejection.expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
TOML

# One worker: with several, hypothesis's concurrent ast.parse trips a CPython 3.11 race
# ("AST constructor recursion depth mismatch"), an error of the tool, not of the API.
fuzz() {
  local who=$1 token=$2
  shift 2
  echo "== schemathesis as $who"
  # From the temporary folder, so its cache (.schemathesis/) stays out of the work tree.
  cd "$work"
  "$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" run "http://$address/api/v1/openapi.json" \
    --checks all \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --workers 1 \
    --request-timeout 10 \
    --header "Authorization: Bearer $token" \
    --generation-database none \
    --no-color \
    "$@"
}

status=0
fuzz admin "$admin_token" "$@" || status=1
fuzz user "$user_token" "$@" || status=1
if [ "$status" -ne 0 ]; then
  echo "schemathesis found failures (server log: see above or rerun with PROVOST_LOG=info)" >&2
  tail -n 50 "$work/serve.log" >&2
fi
exit "$status"

#!/usr/bin/env bash
# Fuzzes a real `provost serve` against the course batch API as Sunbird clients see it
# (tests/sunbird/course-batch.yaml, written from Sunbird lms-service's published documents):
# schemathesis, every check, the user's token in `x-authenticated-user-token` and a gateway key
# in `Authorization`, as Sunbird clients send them. Any server error or envelope violation fails.
# Extra arguments go to schemathesis (e.g. `--max-examples 200`).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# shellcheck source=scripts/fuzz-common.sh
. scripts/fuzz-common.sh
export PROVOST_JWT_SECRET=sunbird-fuzz-secret-not-for-production

# A course staff member who may create batches, and users to name as mentors and participants.
course='course-v1:MITx+6.00x+2024T1'
for user in alice bob carol; do "$provost" users upsert "$user" >/dev/null; done
"$provost" assign alice course_staff "$course" >/dev/null
token=$("$provost" token --user alice --ttl 2h)

start_serve

# A batch of each kind, so reads, updates, participants and enrolments find one.
batch() {
  curl -s -H "x-authenticated-user-token: $token" -H 'content-type: application/json' \
    -d "$1" "http://$address/v1/course/batch/create" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["batchId"])'
}
today=$(date -u +%F)
open_id=$(batch "{\"request\":{\"courseId\":\"$course\",\"name\":\"Open\",\"enrollmentType\":\"open\",\"startDate\":\"$today\"}}")
invite_id=$(batch "{\"request\":{\"courseId\":\"$course\",\"name\":\"Invite\",\"enrollmentType\":\"invite-only\",\"startDate\":\"$today\",\"mentors\":[\"bob\"],\"participants\":[\"carol\"]}}")
echo "== batches $open_id (open) and $invite_id (invite-only)"

# Sunbird answers a refusal of well-formed input with 400 (CLIENT_ERROR): which batches, courses
# and users exist, and today's date, are data, not schema.
cat >"$work/schemathesis.toml" <<TOML
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "400", "401", "404", "429"]

[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "503"]

[[operations]]
include-path-regex = "batch/read"
parameters = { "path.batch-id" = "$open_id" }
TOML

cd "$work"
"$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" run "$root/tests/sunbird/course-batch.yaml" \
  --url "http://$address" \
  --checks all \
  --max-examples "$MAX_EXAMPLES" \
  --seed "$SEED" \
  --workers 1 \
  --request-timeout 10 \
  --header "x-authenticated-user-token: $token" \
  --header "Authorization: Bearer sunbird-gateway-api-key" \
  --generation-database none \
  --no-color \
  "$@" || { tail -n 50 "$work/serve.log" >&2; exit 1; }

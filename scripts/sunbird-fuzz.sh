#!/usr/bin/env bash
# Fuzzes a real `provost serve` against the course batch API as Sunbird clients see it
# (tests/sunbird/course-batch.yaml, written from Sunbird lms-service's published documents):
# schemathesis, every check, the user's token in `x-authenticated-user-token` and a gateway key
# in `Authorization`, as Sunbird clients send them. Any server error or envelope violation fails.
# Extra arguments go to schemathesis (e.g. `--max-examples 200`).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# The same schemathesis as scripts/api-fuzz.sh, in the same place.
SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES=${API_FUZZ_MAX_EXAMPLES:-40}
SEED=${API_FUZZ_SEED:-20261201}

venv=$root/target/api-fuzz-venv
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
  echo "== installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  if ! command -v python3 >/dev/null || ! python3 -m venv --help >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-pip
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

echo "== building provost"
cargo build --locked -p provost
provost=$root/target/debug/provost

work=$(mktemp -d)
server_pid=
stop() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

export PROVOST_DATABASE_URL="sqlite://$work/provost.db?mode=rwc"
export PROVOST_JWT_SECRET=sunbird-fuzz-secret-not-for-production
export PROVOST_LOG=warn,provost=info

# A course staff member who may create batches, and users to name as mentors and participants.
course='course-v1:MITx+6.00x+2024T1'
for user in alice bob carol; do "$provost" users upsert "$user" >/dev/null; done
"$provost" assign alice course_staff "$course" >/dev/null
token=$("$provost" token --user alice --ttl 2h)

"$provost" serve --listen 127.0.0.1:0 --log-format json 2>"$work/serve.log" &
server_pid=$!
address=
for _ in $(seq 1 100); do
  address=$(grep -o '"address":"[^"]*"' "$work/serve.log" | head -n1 | cut -d'"' -f4 || true)
  [ -n "$address" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
if [ -z "$address" ]; then
  echo "provost serve did not start" >&2
  cat "$work/serve.log" >&2
  exit 1
fi
echo "== provost serve at http://$address"

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

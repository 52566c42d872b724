#!/usr/bin/env bash
# Times the batch routes on a real `provost serve` (the debug build unless PROFILE=release):
# N creates (an invite-only batch with 2 mentors and 20 participants each), N updates that
# replace half the participants, then searches by course over all N. Prints the median and p95
# latency of each, as one curl client sees them. Usage: scripts/batches-timing.sh [N=200]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
n=${1:-200}
profile=${PROFILE:-debug}

if [ "$profile" = release ]; then cargo build --locked --release -p provost; else cargo build --locked -p provost; fi
provost=$root/target/$profile/provost

work=$(mktemp -d)
server_pid=
stop() {
  [ -n "$server_pid" ] && { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap stop EXIT

export PROVOST_DATABASE_URL="sqlite://$work/provost.db?mode=rwc"
export PROVOST_JWT_SECRET=batches-timing-secret
export PROVOST_LOG=warn,provost=info
course='course-v1:MITx+6.00x+2024T1'
"$provost" users upsert cora >/dev/null
"$provost" assign cora course_staff "$course" >/dev/null
for i in $(seq 1 40); do "$provost" users upsert "u$i" >/dev/null; done
token=$("$provost" token --user cora --ttl 1h)

"$provost" serve --listen 127.0.0.1:0 --log-format json 2>"$work/serve.log" &
server_pid=$!
address=
for _ in $(seq 1 100); do
  address=$(grep -o '"address":"[^"]*"' "$work/serve.log" | head -n1 | cut -d'"' -f4 || true)
  [ -n "$address" ] && break
  sleep 0.1
done
[ -n "$address" ] || { cat "$work/serve.log" >&2; exit 1; }

call() { # METHOD PATH BODY -> "seconds body"
  curl -s -o "$work/out" -w '%{time_total}' -X "$1" -H "x-authenticated-user-token: $token" \
    -H 'content-type: application/json' -d "$3" "http://$address$2"
}
list() { python3 -c "import json,sys; print(json.dumps(['u%d' % i for i in range($1, $2)]))"; }
start=$(date -u +%F)
mentors=$(list 1 3)
first=$(list 3 23)
second=$(list 13 33)
: >"$work/create"; : >"$work/update"; : >"$work/search"
ids=()
for _ in $(seq 1 "$n"); do
  call POST /v1/course/batch/create "{\"request\":{\"courseId\":\"$course\",\"name\":\"B\",\"enrollmentType\":\"invite-only\",\"startDate\":\"$start\",\"mentors\":$mentors,\"participants\":$first}}" >>"$work/create"
  echo >>"$work/create"
  ids+=("$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"]["batchId"])' "$work/out")")
done
for id in "${ids[@]}"; do
  call PATCH /v1/course/batch/update "{\"request\":{\"id\":\"$id\",\"participants\":$second}}" >>"$work/update"
  echo >>"$work/update"
done
for _ in $(seq 1 20); do
  call POST /v1/course/batch/search "{\"request\":{\"filters\":{\"courseId\":\"$course\"},\"limit\":100}}" >>"$work/search"
  echo >>"$work/search"
done
python3 - "$work" "$n" "$profile" <<'PY'
import statistics, sys
work, n, profile = sys.argv[1], sys.argv[2], sys.argv[3]
for name in ["create", "update", "search"]:
    times = sorted(float(t) * 1000 for t in open(f"{work}/{name}").read().split())
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"{name:7} {len(times):4} calls  median {statistics.median(times):7.1f} ms  p95 {p95:7.1f} ms  ({profile}, SQLite, {n} batches)")
PY

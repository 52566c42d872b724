#!/usr/bin/env bash
# Every benchmark and the report, on loopback only: Provost, cedar-policy and casbin-rs on both
# generated workloads (standard and heavy, bench/README.md) at each size (each workload, engine and
# size in a process of its own), HTTP load on a release `provost serve` with the server's CPU time
# per check, then the tables in bench/results.md and their charts (bench/README.md, what the
# tables mean, is written by hand).
#
#   bench/run.sh                          # all of it: sizes 10 k, 100 k, 1 M, 10 M
#   SIZES="10000 100000" bench/run.sh     # a quicker subset
#
# Knobs (environment): SIZES; WORKLOADS ("standard heavy"); CASBIN_MAX / CEDAR_MAX, the largest
# size each peer is run at (the report extrapolates past it, marked); BUDGET, seconds each slow
# phase of a peer may take; HTTP_SIZE, assignments in the served database; CONNECTIONS of each oha
# run; CHECK_RATES / BATCH_RATES, the fixed request rates, each run for DURATION seconds' worth of
# requests; CHECK_COUNT / BATCH_COUNT, the requests of the one full-speed run of each. Every oha run
# sends a fixed number of requests, and the server's CPU time (utime + stime) is read around it.
# Installs its load tool itself: `oha` with `cargo install --locked` into target/bench-tools
# (a few minutes, once). Results: target/bench/{results,http,criterion}. Binaries go where cargo
# puts them (CARGO_TARGET_DIR is honoured, e.g. to time a build from scratch).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
START=$(date +%s)

SIZES=${SIZES:-"10000 100000 1000000 10000000"}
WORKLOADS=${WORKLOADS:-"standard heavy"}
CASBIN_MAX=${CASBIN_MAX:-10000000}
CEDAR_MAX=${CEDAR_MAX:-10000000}
BUDGET=${BUDGET:-20}
HTTP_SIZE=${HTTP_SIZE:-1000000}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
CHECK_RATES=${CHECK_RATES:-"1000 10000 30000"}
BATCH_RATES=${BATCH_RATES:-"100 400 1000"}
CHECK_COUNT=${CHECK_COUNT:-200000}
BATCH_COUNT=${BATCH_COUNT:-40000}
PORT=${PORT:-18181}
OUT=$ROOT/target/bench
TOOLS=${BENCH_TOOLS:-$ROOT/target/bench-tools}
URL="http://127.0.0.1:$PORT"

step() { echo "== $* ($(( $(date +%s) - START )) s)" >&2; }

step "tools and release build"
OHA="$TOOLS/bin/oha"
if [ ! -x "$OHA" ]; then
    echo "installing oha into $TOOLS (once) ..." >&2
    cargo install oha --locked --root "$TOOLS" >&2
fi
cargo build --release --locked -p provost-bench -p provost >&2
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
rm -rf "$OUT/results" "$OUT/http"
mkdir -p "$OUT/results" "$OUT/http" "$OUT/criterion"

for workload in $WORKLOADS; do
    for size in $SIZES; do
        for engine in provost cedar casbin; do
            if [ "$engine" = casbin ] && [ "$size" -gt "$CASBIN_MAX" ]; then continue; fi
            if [ "$engine" = cedar ] && [ "$size" -gt "$CEDAR_MAX" ]; then continue; fi
            step "$engine at $size assignments, $workload workload"
            name="$workload-$engine-$size"
            "$BIN/compare" --workload "$workload" --engine "$engine" --size "$size" \
                --budget "$BUDGET" --out "$OUT/results/$name.json" --criterion "$OUT/criterion" \
                >"$OUT/results/$name.log"
        done
    done
done

step "HTTP: fill $HTTP_SIZE assignments, serve, load"
WORK=$(mktemp -d)
SERVER=""
stop_server() {
    if [ -n "$SERVER" ]; then kill -TERM "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
    SERVER=""
}
trap 'stop_server; rm -rf "$WORK"' EXIT
export PROVOST_JWT_SECRET="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export PROVOST_LOG=warn

# Starts `provost serve` on database $1 and waits until it answers; sets SERVER.
serve() {
    PROVOST_DATABASE_URL="$1" "$BIN/provost" serve --listen "127.0.0.1:$PORT" >>"$WORK/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 600); do
        curl -sf "$URL/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$SERVER" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK/server.log" >&2
    echo "provost serve did not come up" >&2
    exit 1
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER/status"; }

# The server's own footprint with the default policy only.
serve "sqlite://$WORK/empty.db?mode=rwc"
RSS_EMPTY=$(rss_kib)
stop_server

DB="sqlite://$WORK/provost.db?mode=rwc"
"$BIN/fill" "$DB" "$HTTP_SIZE" "$WORK/bodies"
PROVOST_DATABASE_URL="$DB" "$BIN/provost" assign svc authz_service '*' >/dev/null
t0=$(date +%s%N)
serve "$DB"
START_SECS=$(awk "BEGIN { print ($(date +%s%N) - $t0) / 1e9 }")
RSS_LOADED=$(rss_kib)
TOKEN=$(PROVOST_DATABASE_URL="$DB" "$BIN/provost" token --user svc --ttl 1h)

# The answers must be the engine's before anything is timed.
answer=$(curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d @"$WORK/bodies/check.json" "$URL/api/v1/check")
case "$answer" in *'"allowed":true'*) ;; *) echo "check answered $answer, expected allowed" >&2; exit 1 ;; esac
want=$(sed -n 's/.*"first_batch_allowed": *\([0-9]*\).*/\1/p' "$WORK/bodies/fill.json")
got=$(head -n 1 "$WORK/bodies/batches.jsonl" | curl -s -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d @- "$URL/api/v1/check/batch" | grep -o '"allowed":true' | wc -l)
if [ "$got" != "$want" ]; then echo "batch allowed $got checks, the engine $want" >&2; exit 1; fi

# One oha run of a fixed number of requests: endpoint name, path, bodies (one a line, sent in
# turn), rate ("max": full speed), requests. The server's /proc/PID/stat before and after it gives
# its CPU time over exactly those requests (the report divides; bench/src/cpu.rs).
load() {
    local name=$1 path=$2 body=$3 rate=$4 count=$5 limit=()
    if [ "$rate" != max ]; then limit=(-q "$rate" --latency-correction); fi
    step "oha: $name at $rate, $count requests"
    local before after
    before=$(cat "/proc/$SERVER/stat")
    "$OHA" --no-tui --output-format json -n "$count" -c "$CONNECTIONS" "${limit[@]}" -m POST \
        -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -Z "$body" \
        "$URL$path" >"$OUT/http/oha-$name-$rate.json"
    after=$(cat "/proc/$SERVER/stat")
    printf '{"clk_tck": %s, "before": "%s", "after": "%s"}\n' "$(getconf CLK_TCK)" "$before" "$after" \
        >"$OUT/http/cpu-$name-$rate.json"
}
for rate in $CHECK_RATES; do
    load check /api/v1/check "$WORK/bodies/checks.jsonl" "$rate" $((rate * DURATION))
done
load check /api/v1/check "$WORK/bodies/checks.jsonl" max "$CHECK_COUNT"
for rate in $BATCH_RATES; do
    load batch /api/v1/check/batch "$WORK/bodies/batches.jsonl" "$rate" $((rate * DURATION))
done
load batch /api/v1/check/batch "$WORK/bodies/batches.jsonl" max "$BATCH_COUNT"

sed -e '$ d' "$WORK/bodies/fill.json" >"$OUT/http/server.json"
cat >>"$OUT/http/server.json" <<JSON
  ,"rss_kib_loaded": $RSS_LOADED, "rss_kib_empty": $RSS_EMPTY, "start_secs": $START_SECS,
  "connections": $CONNECTIONS, "duration_secs": $DURATION,
  "check_count": $CHECK_COUNT, "batch_count": $BATCH_COUNT
}
JSON
stop_server

step "report"
"$BIN/report" --elapsed "$(( $(date +%s) - START ))"
step "done"

#!/usr/bin/env bash
# Load of POST /api/v1/check against a release build of `provost serve`, on loopback only.
#
#   bench/http-load.sh                 # 20 s, 32 connections
#   DURATION=60 CONNECTIONS=64 bench/http-load.sh
#
# Installs its load tool itself: `oha` with `cargo install --locked` into target/bench-tools
# (a few minutes, once), or, if that fails, `wrk` from Debian's packages. The server runs on a
# fresh SQLite file with a small seeded policy, is stopped at the end, and nothing is kept.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18181}
TOOLS=${BENCH_TOOLS:-$ROOT/target/bench-tools}
URL="http://127.0.0.1:$PORT"

tool=""
if command -v oha >/dev/null 2>&1; then
    tool=$(command -v oha)
elif [ -x "$TOOLS/bin/oha" ]; then
    tool="$TOOLS/bin/oha"
else
    echo "installing oha into $TOOLS (once) ..." >&2
    if timeout 1200 cargo install oha --locked --root "$TOOLS" >&2; then
        tool="$TOOLS/bin/oha"
    elif command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >&2; }; then
        tool=$(command -v wrk)
    else
        echo "neither oha nor wrk could be installed" >&2
        exit 2
    fi
fi

cargo build --release -p provost --manifest-path "$ROOT/Cargo.toml" >&2
BIN="$ROOT/target/release/provost"

WORK=$(mktemp -d)
SERVER=""
cleanup() {
    if [ -n "$SERVER" ]; then kill -TERM "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

export PROVOST_DATABASE_URL="sqlite://$WORK/provost.db?mode=rwc"
export PROVOST_JWT_SECRET="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export PROVOST_LOG=warn

# Seed: a few grants the checks will walk through (org inheritance, a glob, a service).
"$BIN" assign alice course_staff org:MITx >/dev/null
"$BIN" assign gina course_editor 'course-v1:MITx+*' >/dev/null
"$BIN" assign svc authz_service '*' >/dev/null

"$BIN" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do
    curl -sf "$URL/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "$URL/healthz" >/dev/null

TOKEN=$("$BIN" token --user svc --ttl 1h)
BODY='{"subject":"alice","action":"courses.edit_course_content","scope":"course-v1:MITx+6.00x+2024T1"}'
answer=$(curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$BODY" "$URL/api/v1/check")
echo "one check: $answer" >&2
case "$answer" in *'"allowed":true'*) ;; *) echo "the check did not answer allowed" >&2; exit 1 ;; esac

echo "load: POST /api/v1/check for ${DURATION}s over $CONNECTIONS connections with $(basename "$tool")" >&2
case "$(basename "$tool")" in
    oha)
        "$tool" --no-tui -z "${DURATION}s" -c "$CONNECTIONS" -m POST \
            -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$BODY" \
            "$URL/api/v1/check"
        ;;
    wrk)
        cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
        "$tool" -t 2 -c "$CONNECTIONS" -d "${DURATION}s" --latency -s "$WORK/post.lua" "$URL/api/v1/check"
        ;;
esac

# Every request must have been answered 200 (the server counts them by status).
curl -s "$URL/metrics" | grep -E '^provost_http_requests_total\{method="POST",route="/api/v1/check"' >&2 || true

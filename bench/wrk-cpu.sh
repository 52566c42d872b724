#!/usr/bin/env bash
# Server CPU per single check under wrk: starts a release `provost serve` on a fresh SQLite file (or
# on DB, a database URL), warms it up, then reads the server's utime + stime from /proc/PID/stat
# around a fixed-length wrk run, so the load generator's share of the cores does not count.
#
#   bench/wrk-cpu.sh target/release/provost [SECONDS]     # 32 connections
#   CONNECTIONS=4 DB=sqlite:///tmp/big.db bench/wrk-cpu.sh target/release/provost 10
#
# Needs wrk (Debian's package) and curl. Prints one line: requests, rate, CPU per check.
set -euo pipefail
BIN=$1
SECS=${2:-10}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18299}
WORK=$(mktemp -d)
export PROVOST_JWT_SECRET="wrk-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export PROVOST_LOG=warn
export PROVOST_DATABASE_URL="${DB:-sqlite://$WORK/p.db?mode=rwc}"
"$BIN" serve --listen "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
    sleep 0.1
done
TOKEN=$("$BIN" token --user svc --superuser | tail -1)
cat >"$WORK/check.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '{"subject":"alice","action":"courses.view_course","scope":"course-v1:MITx+6.00x+2024T1"}'
LUA
URL="http://127.0.0.1:$PORT/api/v1/check"
wrk -t1 -c"$CONNECTIONS" -d2s -s "$WORK/check.lua" "$URL" >/dev/null
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$SERVER/stat")
OUT=$(wrk -t1 -c"$CONNECTIONS" -d"${SECS}s" -s "$WORK/check.lua" "$URL")
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$SERVER/stat")
REQUESTS=$(echo "$OUT" | awk '/requests in/ {print $1}')
FAILED=$(echo "$OUT" | awk '/Non-2xx/ {print $NF}')
python3 -c "
tck = $(getconf CLK_TCK); n = $REQUESTS
u = ($u1 - $u0) / tck; s = ($s1 - $s0) / tck
print(f'{n} checks ({n / $SECS:.0f}/s, {${FAILED:-0}} not 2xx), {$CONNECTIONS} connections: server CPU per check '
      f'{u / n * 1e6:.1f} us user + {s / n * 1e6:.1f} us system = {(u + s) / n * 1e6:.1f} us')"

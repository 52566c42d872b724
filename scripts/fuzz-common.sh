# Shared by scripts/api-fuzz.sh and scripts/sunbird-fuzz.sh (sourced, not run): one pinned
# schemathesis, a fresh provost build and work directory, and `start_serve`.
# The caller has `set -euo pipefail`, is at the repository root and sets `root=$PWD`.

# One exact version, so a run today and a run next month judge the same document the same way.
SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES=${API_FUZZ_MAX_EXAMPLES:-40}
SEED=${API_FUZZ_SEED:-20261201}

venv=$root/target/api-fuzz-venv
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
  echo "== installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  "$root/scripts/ensure-venv.sh" "$venv"
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
export PROVOST_LOG=warn,provost=info

# Starts `provost serve` on a free port (port 0: the server names it in its "listening" log
# line) and sets `address`; its log is "$work/serve.log".
start_serve() {
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
}

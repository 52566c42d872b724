#!/usr/bin/env bash
# Makes sure moto's S3-compatible server is installed (into a venv under target/, like
# api-fuzz.sh does for schemathesis) and prints the path of `moto_server`. The programs app's
# S3 report tests run this and start the server themselves on a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# One exact version, so runs today and next month talk to the same server.
MOTO_VERSION=5.2.5
venv=$root/target/moto-venv

if ! "$venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null \
    || [ ! -x "$venv/bin/moto_server" ]; then
  echo "== installing moto[server] $MOTO_VERSION into $venv" >&2
  "$root/scripts/ensure-venv.sh" "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
fi
echo "$venv/bin/moto_server"

#!/usr/bin/env bash
# Makes sure DIR is a Python virtualenv, creating it when it is not (and installing Debian's
# python3-venv first when python3 lacks the venv module). Prints nothing on stdout, so callers
# that print a path keep their stdout clean. Usage: scripts/ensure-venv.sh DIR
set -euo pipefail
venv=$1
if [ -x "$venv/bin/python" ]; then
  exit 0
fi
if ! command -v python3 >/dev/null || ! python3 -m venv --help >/dev/null 2>&1; then
  apt-get update -qq >&2 && apt-get install -y -qq python3 python3-venv python3-pip >&2
fi
python3 -m venv "$venv" >&2

#!/usr/bin/env bash
# The Python client's tests (clients/python): a virtualenv under target/python-venv (made once,
# reused), the package installed editable with its pinned test extras, the debug `provost` the
# tests start (`provost serve` on a free port), then mypy (strict) and pytest. Arguments go to
# pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
venv="$target/python-venv"
./scripts/ensure-venv.sh "$venv"
venv=$(cd "$venv" && pwd)
# Reinstall only when the package's metadata changed (the install is editable: code changes
# need none).
stamp="$venv/.provost-client-installed"
want=$(sha256sum clients/python/pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "clients/python[test]"
    echo "$want" >"$stamp"
fi
cargo build -p provost --locked
export PROVOST_BIN
PROVOST_BIN=$(realpath "$target/debug/provost")
cd clients/python
"$venv/bin/python" -m mypy  # strict, over src/ (pyproject.toml): the package is typed
exec "$venv/bin/python" -m pytest -q "$@"

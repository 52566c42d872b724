#!/usr/bin/env bash
# Makes a PostgreSQL server answer on 127.0.0.1:5432 for user `postgres` without a password:
# uses the machine's server if it runs, starts it if installed, installs it if missing.
set -euo pipefail

ready() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }

if ready; then exit 0; fi

if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "ensure-postgres: installing PostgreSQL from the distribution's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  fresh=1
fi

version=$(ls /etc/postgresql | sort -V | tail -1)
if [ "${fresh:-0}" = 1 ]; then
  # Tests connect over TCP as `postgres` with no password.
  hba=/etc/postgresql/$version/main/pg_hba.conf
  sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+$/\1trust/' "$hba"
fi
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true

for _ in $(seq 1 30); do
  if ready; then exit 0; fi
  sleep 1
done
echo "ensure-postgres: PostgreSQL did not come up on 127.0.0.1:5432" >&2
exit 1

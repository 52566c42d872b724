#!/usr/bin/env bash
# Makes a MariaDB (or MySQL) server answer on 127.0.0.1:3306 for `root` without a password, for the
# legacy app's tests against the platform's own tables: uses the machine's server if it runs,
# starts it if installed, installs it if missing.
set -euo pipefail

ready() { command -v mysqladmin >/dev/null && mysqladmin --protocol=tcp -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; }

if ready; then exit 0; fi

if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then
  echo "ensure-mariadb: installing MariaDB from the distribution's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq mariadb-server >/dev/null
fi

# Debian's package runs the server as `mysql` with its socket here; create it if a fresh
# container lacks it.
install -d -o mysql -g mysql /run/mysqld 2>/dev/null || true
start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql --bind-address=127.0.0.1 --port=3306

for _ in $(seq 1 30); do
  if ready; then break; fi
  sleep 1
done
if ! ready; then
  echo "ensure-mariadb: MariaDB did not come up on 127.0.0.1:3306" >&2
  exit 1
fi
# Tests connect over TCP as root with no password (a fresh Debian install uses unix_socket auth).
if ! mariadb --protocol=tcp -h 127.0.0.1 -u root -e 'SELECT 1' >/dev/null 2>&1; then
  mariadb -u root -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;"
fi

#!/usr/bin/env bash
# Makes Redis available for the event-bus tests (crates/provost-server/tests/it/events.rs): the
# tests start redis-server processes of their own on free ports, so the binary must exist; the
# machine's server on 127.0.0.1:6379 is started too if installed and stopped. Debian's package is
# installed if missing (the test fails rather than skips without it).
set -euo pipefail
if ! command -v redis-server >/dev/null; then
    echo "ensure-redis: installing Redis from the distribution's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq redis-server >/dev/null
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi

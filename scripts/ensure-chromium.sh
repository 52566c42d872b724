#!/usr/bin/env bash
# Makes headless Chromium available for the API page's browser test: Debian's package, installed
# if missing (the test fails rather than skips without it).
set -euo pipefail
if command -v chromium >/dev/null; then exit 0; fi
echo "ensure-chromium: installing Chromium from the distribution's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null

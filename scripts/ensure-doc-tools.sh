#!/usr/bin/env bash
# The tools the docs' examples use (and so the docs test runs): curl, jq, openssl, sqlite3.
# Installs the missing ones from the distribution's packages, so the test never skips them.
set -euo pipefail

missing=()
for tool in curl:curl jq:jq openssl:openssl sqlite3:sqlite3; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

echo "ensure-doc-tools: installing ${missing[*]} from the distribution's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
